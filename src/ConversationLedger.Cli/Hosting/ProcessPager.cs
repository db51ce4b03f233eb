using System.ComponentModel;
using System.Diagnostics;
using System.Text;
using Spectre.Console;

namespace ConversationLedger.Cli.Hosting;

/// <summary>Shows output longer than the terminal one screen at a time.</summary>
public interface IPager
{
    /// <summary>Shows <paramref name="text"/> (ANSI styles included) and waits until the user closes the pager.</summary>
    /// <returns>False when no pager could be started: the caller writes the text itself.</returns>
    Task<bool> ShowAsync(string text, CancellationToken cancellationToken = default);
}

/// <summary>
/// The pager a terminal user expects: <c>$PAGER</c> (run through <c>sh -c</c>, so it may carry options; empty or <c>cat</c>
/// means none), else <c>less -FRX</c> when <c>less</c> is on the PATH (quits at once when the text fits a screen, keeps
/// colours, leaves the text on the screen). <c>LESS</c> is set to <c>FRX</c> when unset, as git does.
/// </summary>
public sealed class ProcessPager(Func<string, string?> environment) : IPager
{
    /// <summary>The shell command of the pager, or null for none.</summary>
    public string? Command
    {
        get
        {
            var pager = environment("PAGER");
            if (pager is not null)
            {
                return string.IsNullOrWhiteSpace(pager) || pager.Trim() == "cat" ? null : pager;
            }
            return (environment("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
                .Any(folder => File.Exists(Path.Combine(folder, "less"))) ? "less -FRX" : null;
        }
    }

    /// <inheritdoc />
    public async Task<bool> ShowAsync(string text, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (Command is not { } command)
        {
            return false;
        }
        var start = new ProcessStartInfo("/bin/sh")
        {
            RedirectStandardInput = true,
            StandardInputEncoding = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false),
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(command);
        if (environment("LESS") is null)
        {
            start.Environment["LESS"] = "FRX";
        }
        Process? pager;
        try
        {
            pager = Process.Start(start);
        }
        catch (Win32Exception)
        {
            return false;
        }
        if (pager is null)
        {
            return false;
        }
        using (pager)
        {
            try
            {
                await pager.StandardInput.WriteAsync(text.AsMemory(), cancellationToken);
                pager.StandardInput.Close();
            }
            catch (IOException)
            {
                // The user quit before reading it all: the pipe is closed, which is fine.
            }
            // The user closes the pager; Ctrl+C belongs to it meanwhile (the caller holds the interrupts).
            await pager.WaitForExitAsync(CancellationToken.None);
        }
        return true;
    }
}

/// <summary>
/// Output of a command that may be paged: kept while the command runs, then shown in the pager when it is longer than
/// the terminal, else written as it is. Only on a terminal; piped output is never paged.
/// </summary>
public sealed class PagedOutput
{
    private readonly CliServices _services;
    private readonly StringWriter _buffer = new();

    private PagedOutput(CliServices services)
    {
        _services = services;
        var screen = services.Console.Profile;
        Console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new Captured(_buffer, screen.Width, screen.Height) });
        // What the terminal can show (colours, Unicode), so the text is what it would have been.
        Console.Profile.Capabilities = screen.Capabilities;
        Console.Profile.Width = screen.Width;
    }

    /// <summary>The console the command writes to meanwhile.</summary>
    public IAnsiConsole Console { get; }

    /// <summary>A paged output when the services have a pager and the console is a terminal; else null.</summary>
    public static PagedOutput? TryStart(CliServices services)
    {
        ArgumentNullException.ThrowIfNull(services);
        return services.Pager is not null && Rendering.Output.IsTerminal(services.Console) ? new PagedOutput(services) : null;
    }

    /// <summary>
    /// Shows what was written: through the pager when <paramref name="complete"/> and longer than the terminal, else
    /// straight to the terminal (also what a failed or cancelled command wrote before it stopped).
    /// </summary>
    public async Task FinishAsync(bool complete)
    {
        var text = _buffer.ToString();
        if (text.Length == 0)
        {
            return;
        }
        var lines = text.Count(c => c == '\n');
        if (complete && lines >= _services.Console.Profile.Height)
        {
            // Ctrl+C goes to the pager while it runs; it must not cancel a command that has finished.
            using (_services.Interrupts.Push(() => { }))
            {
                if (await _services.Pager!.ShowAsync(text))
                {
                    return;
                }
            }
        }
        Rendering.Output.WriteRaw(_services.Console, text);
    }

    private sealed class Captured(TextWriter writer, int width, int height) : IAnsiConsoleOutput
    {
        public TextWriter Writer => writer;

        public bool IsTerminal => true;

        public int Width => width;

        public int Height => height;

        public void SetEncoding(Encoding encoding)
        {
        }
    }
}
