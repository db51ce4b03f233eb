using Spectre.Console;

namespace ConversationLedger.Cli.Rendering;

/// <summary>Expected errors as one red line: what went wrong and, for API errors, the request id; never a stack trace.</summary>
public static class ErrorLine
{
    /// <summary>Whether the error is one the user can act on (as opposed to a bug).</summary>
    public static bool IsExpected(Exception exception) =>
        exception is LedgerException or IOException or UnauthorizedAccessException or FormatException or ArgumentException
            || IsStoreFailure(exception);

    /// <summary>Whether the error came from the store's driver (SQLite, PostgreSQL, Redis).</summary>
    public static bool IsStoreFailure(Exception exception) =>
        exception is System.Data.Common.DbException or StackExchange.Redis.RedisException;

    /// <summary>Writes the error line; a store's error names the store (<paramref name="store"/>: a SQLite file by its path).</summary>
    public static void Write(IAnsiConsole console, Exception exception, Hosting.StoreLocation? store = null)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(exception);
        // The core's messages already name the thread, the rule or the request id.
        var message = exception.Message.ReplaceLineEndings(" ");
        if (IsStoreFailure(exception))
        {
            // Drivers connect lazily, so an unreachable server shows up at the first read, not when the store opens.
            message = (store is null ? "the store failed: " : $"the store {store} failed: ") + message
                + (store is { Kind: Hosting.StoreKind.Sqlite } && message.Contains("readonly database", StringComparison.OrdinalIgnoreCase)
                    ? " (the file or its folder is read-only: threads, show, usage, export, inspect, search and info still read it)"
                    : "");
        }
        console.MarkupLine($"[red]error:[/] {Markup.Escape(message)}");
    }
}
