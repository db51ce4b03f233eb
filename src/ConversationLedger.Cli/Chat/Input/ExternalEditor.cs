using System.Diagnostics;

namespace ConversationLedger.Cli.Chat.Input;

/// <summary>
/// <c>/edit</c>: the message written in <c>$VISUAL</c> or <c>$EDITOR</c> (else <c>vi</c>), run through <c>sh -c</c>
/// as git runs it (so the variable may carry options), on a file in a folder only the user can read, removed afterwards.
/// </summary>
public static class ExternalEditor
{
    /// <summary>The editor command the environment names.</summary>
    public static string Command(Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        return environment("VISUAL") is { Length: > 0 } visual ? visual
            : environment("EDITOR") is { Length: > 0 } editor ? editor
            : "vi";
    }

    /// <summary>Opens the editor on <paramref name="initial"/> and returns what was saved.</summary>
    /// <returns>The file's text after the editor exited successfully.</returns>
    /// <exception cref="LedgerException">The editor could not be started or exited with a failure; the message says which.</exception>
    public static async Task<string> EditAsync(string command, string initial, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        ArgumentNullException.ThrowIfNull(initial);
        var folder = Directory.CreateTempSubdirectory("ledger-edit-");
        try
        {
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(folder.FullName, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
            var file = Path.Combine(folder.FullName, "message.md");
            await File.WriteAllTextAsync(file, initial, cancellationToken);
            // Standard input, output and error are the terminal's: the editor takes it over until it exits.
            var start = OperatingSystem.IsWindows()
                ? new ProcessStartInfo("cmd.exe") { ArgumentList = { "/c", command + " \"" + file + "\"" } }
                : new ProcessStartInfo("/bin/sh") { ArgumentList = { "-c", command + " \"$1\"", "sh", file } };
            start.UseShellExecute = false;
            Process process;
            try
            {
                process = Process.Start(start) ?? throw new LedgerException($"the editor ({command}) did not start");
            }
            catch (System.ComponentModel.Win32Exception ex)
            {
                throw new LedgerException($"the editor ({command}) did not start: {ex.Message}", ex);
            }
            using (process)
            {
                await process.WaitForExitAsync(cancellationToken);
                if (process.ExitCode != 0)
                {
                    throw new LedgerException($"the editor ({command}) exited with {process.ExitCode}; nothing was sent");
                }
            }
            return await File.ReadAllTextAsync(file, cancellationToken);
        }
        finally
        {
            try
            {
                folder.Delete(recursive: true);
            }
            catch (IOException)
            {
                // Left in the temp folder, readable only by the user.
            }
        }
    }
}
