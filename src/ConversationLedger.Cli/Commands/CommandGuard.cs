using ConversationLedger.Cli.Hosting;
using ConversationLedger.Cli.Rendering;
using Spectre.Console;

namespace ConversationLedger.Cli.Commands;

/// <summary>
/// Runs a command body so that expected failures (<see cref="LedgerException"/>, I/O, bad input) become one red line
/// and exit code 1, and Ctrl+C becomes a clean stop with exit code 130. Bugs still propagate.
/// </summary>
public static class CommandGuard
{
    /// <summary>Exit code of a cancelled command (128 + SIGINT, as shells report it).</summary>
    public const int CancelledExitCode = 130;

    /// <summary>Runs <paramref name="body"/>.</summary>
    /// <param name="services">The consoles.</param>
    /// <param name="body">The command.</param>
    /// <param name="cancellationToken">The command's cancellation.</param>
    /// <param name="store">The store the command opened, if any, for error lines that name it.</param>
    public static async Task<int> RunAsync(CliServices services, Func<Task<int>> body, CancellationToken cancellationToken, Func<StoreLocation?>? store = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(body);
        try
        {
            return await body();
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            services.Errors.MarkupLine("[yellow]cancelled[/]");
            return CancelledExitCode;
        }
        catch (Exception ex) when (ErrorLine.IsExpected(ex))
        {
            ErrorLine.Write(services.Errors, ex, store?.Invoke());
            return 1;
        }
    }
}
