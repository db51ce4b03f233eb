namespace ConversationLedger.Cli.Hosting;

/// <summary>The kinds of store the CLI can open.</summary>
public enum StoreKind
{
    /// <summary>Nothing persists; the process's memory only.</summary>
    Memory,

    /// <summary>A SQLite database file.</summary>
    Sqlite,

    /// <summary>A PostgreSQL database (Npgsql connection string).</summary>
    Postgres,

    /// <summary>A Redis server (StackExchange.Redis configuration string).</summary>
    Redis,
}

/// <summary>
/// Where the ledger lives, from a store URI: <c>sqlite:PATH</c>, <c>postgres:CONNECTION-STRING</c>,
/// <c>redis:CONFIG</c> or <c>memory:</c>.
/// </summary>
/// <param name="Kind">The kind of store.</param>
/// <param name="Target">The path, connection string or configuration (empty for memory).</param>
public sealed record StoreLocation(StoreKind Kind, string Target)
{
    /// <summary>The accepted forms, for error messages and help.</summary>
    public const string Forms = "sqlite:PATH, postgres:CONNECTION-STRING, redis:CONFIG or memory:";

    /// <summary>Reads a store URI.</summary>
    /// <exception cref="FormatException">The text is not one of the accepted forms; the message says which are.</exception>
    public static StoreLocation Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        var scheme = colon < 0 ? text : text[..colon];
        var target = colon < 0 ? "" : text[(colon + 1)..].Trim();
        // sqlite:///abs/path and sqlite://rel are common spellings of a file URI; accept them as the path.
        if (target.StartsWith("//", StringComparison.Ordinal))
        {
            target = target[2..];
        }
        var kind = scheme.Trim().ToLowerInvariant() switch
        {
            "memory" => StoreKind.Memory,
            "sqlite" => StoreKind.Sqlite,
            "postgres" or "postgresql" => StoreKind.Postgres,
            "redis" => StoreKind.Redis,
            _ => throw new FormatException($"bad store \"{text}\": expected {Forms}"),
        };
        if (kind != StoreKind.Memory && target.Length == 0)
        {
            throw new FormatException($"bad store \"{text}\": {scheme.Trim().ToLowerInvariant()}: needs a {(kind == StoreKind.Sqlite ? "file path" : "connection string")} after the colon");
        }
        return new StoreLocation(kind, kind == StoreKind.Memory ? "" : target);
    }

    /// <inheritdoc />
    public override string ToString() => Kind switch
    {
        StoreKind.Memory => "memory:",
        StoreKind.Sqlite => "sqlite:" + Target,
        // Connection strings may hold passwords: name the kind only.
        StoreKind.Postgres => "postgres:(connection string)",
        _ => "redis:(configuration)",
    };
}
