using Spectre.Console;

namespace ConversationLedger.Cli.Rendering;

/// <summary>Expected errors as one red line: what went wrong and, for API errors, the request id; never a stack trace.</summary>
public static class ErrorLine
{
    /// <summary>Whether the error is one the user can act on (as opposed to a bug).</summary>
    public static bool IsExpected(Exception exception) =>
        exception is LedgerException or IOException or UnauthorizedAccessException or FormatException or ArgumentException
            || IsStoreFailure(exception);

    private static bool IsStoreFailure(Exception exception) =>
        exception is System.Data.Common.DbException or StackExchange.Redis.RedisException;

    /// <summary>Writes the error line.</summary>
    public static void Write(IAnsiConsole console, Exception exception)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(exception);
        // The core's messages already name the thread, the rule or the request id.
        var message = exception.Message.ReplaceLineEndings(" ");
        if (IsStoreFailure(exception))
        {
            // Drivers connect lazily, so an unreachable server shows up at the first read, not when the store opens.
            message = "the store failed: " + message;
        }
        console.MarkupLine($"[red]error:[/] {Markup.Escape(message)}");
    }
}
