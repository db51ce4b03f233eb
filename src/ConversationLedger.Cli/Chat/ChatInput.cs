using ConversationLedger.Cli.Chat.Input;
using ConversationLedger.Cli.Hosting;
using Spectre.Console;

namespace ConversationLedger.Cli.Chat;

/// <summary>
/// What the chat reads from the user: on a terminal through a <see cref="LineEditor"/>, else line by line from standard
/// input (a <c>"""</c> line opens a block there too). Ctrl+C once at the prompt prints a hint, twice ends the chat.
/// </summary>
internal sealed class ChatInput(CliServices services, LineEditor? editor)
{
    private Task<string?>? _pendingLine;

    /// <summary>The line editor, or null when the input is not a terminal.</summary>
    public LineEditor? Editor { get; } = editor;

    private IAnsiConsole Console => services.Console;

    /// <summary>
    /// The next entry as typed (a """ block whole), or null when the chat ends: the end of input, or Ctrl+C twice at
    /// the prompt (once prints a hint).
    /// </summary>
    public async Task<string?> ReadEntryAsync(CancellationToken cancellationToken)
    {
        if (Editor is null)
        {
            Console.Markup("[bold green]you>[/] ");
            var line = await ReadLineAsync(cancellationToken);
            if (line is null)
            {
                Console.WriteLine();
                return null;
            }
            if (line.Trim() != LineEditor.Fence)
            {
                return line;
            }
            // A """ line opens a block of lines that a """ line closes; the end of input inside it sends nothing.
            var block = new System.Text.StringBuilder(line).Append('\n');
            while (true)
            {
                Console.Markup("[dim]...[/]  ");
                var next = await ReadLineAsync(cancellationToken);
                if (next is null)
                {
                    Console.WriteLine();
                    return null;
                }
                block.Append(next).Append('\n');
                if (next.Trim() == LineEditor.Fence)
                {
                    return block.ToString();
                }
            }
        }

        var presses = 0;
        var style = Console.Profile.Capabilities.ColorSystem == ColorSystem.NoColors ? null : "\u001b[1;32m";
        while (true)
        {
            EditorResult result;
            using (services.Interrupts.Push(Editor.Interrupt))
            {
                result = await Editor.ReadAsync("you> ", style, cancellationToken);
            }
            switch (result.Outcome)
            {
                case EditorOutcome.Line:
                    return result.Text;
                case EditorOutcome.End:
                    return null;
                default:
                    if (cancellationToken.IsCancellationRequested || ++presses >= 2)
                    {
                        return null;
                    }
                    Console.MarkupLine("[dim](Ctrl+C again to quit, or type /exit)[/]");
                    break;
            }
        }
    }

    /// <summary>
    /// Reads a line; Ctrl+C once prints a hint, twice ends the chat (null). The read stays pending across the
    /// first Ctrl+C so no typed line is lost. Presses are counted, not signalled: two in quick succession are two, however
    /// late this loop gets to them (a signal set twice before it was seen would count once, and the chat would hang).
    /// </summary>
    private async Task<string?> ReadLineAsync(CancellationToken cancellationToken)
    {
        var input = services.Input;
        _pendingLine ??= Task.Run(() => input.ReadLine(), CancellationToken.None);
        var presses = System.Threading.Channels.Channel.CreateUnbounded<bool>();
        using var _ = services.Interrupts.Push(() => presses.Writer.TryWrite(true));
        using var __ = cancellationToken.Register(() => presses.Writer.TryWrite(true));
        var count = 0;
        while (true)
        {
            var pressed = presses.Reader.WaitToReadAsync(CancellationToken.None).AsTask();
            var done = await Task.WhenAny(_pendingLine, pressed);
            if (done == _pendingLine)
            {
                var line = await _pendingLine;
                _pendingLine = null;
                return line;
            }
            var before = count;
            while (presses.Reader.TryRead(out var press) && press)
            {
                count++;
            }
            if (cancellationToken.IsCancellationRequested)
            {
                return null;
            }
            if (before == 0)
            {
                // Said at the first press, also when the second came before it was seen.
                Console.WriteLine();
                Console.MarkupLine("[dim](Ctrl+C again to quit, or type /exit)[/]");
                if (count < 2)
                {
                    Console.Markup("[bold green]you>[/] ");
                }
            }
            if (count >= 2)
            {
                return null;
            }
        }
    }
}
