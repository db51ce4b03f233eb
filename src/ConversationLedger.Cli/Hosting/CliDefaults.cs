namespace ConversationLedger.Cli.Hosting;

/// <summary>The defaults that let every command run with no configuration at all.</summary>
public static class CliDefaults
{
    /// <summary>The tenant of a local user.</summary>
    public const string Tenant = "local";

    /// <summary>The scope when none is given.</summary>
    public const string Scope = "default";

    /// <summary>The thread when none is given.</summary>
    public const string Thread = "default";

    /// <summary>The model when neither --model nor LEDGER_MODEL is set.</summary>
    public const string Model = "claude-sonnet-5-5";

    /// <summary>The line that says replies are not from Claude.</summary>
    public const string EmulatorNotice = "no ANTHROPIC_API_KEY: replies come from the local emulator";

    /// <summary>The store: --store, else LEDGER_STORE, else the default.</summary>
    /// <exception cref="FormatException">The URI is malformed.</exception>
    public static StoreLocation Store(string? option, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        var text = !string.IsNullOrWhiteSpace(option) ? option : environment("LEDGER_STORE");
        return string.IsNullOrWhiteSpace(text) ? DefaultStore(environment) : StoreLocation.Parse(text);
    }

    /// <summary>The model: --model, else LEDGER_MODEL, else <see cref="Model"/>.</summary>
    public static string ModelId(string? option, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        return !string.IsNullOrWhiteSpace(option) ? option : environment("LEDGER_MODEL") is { Length: > 0 } env ? env : Model;
    }

    /// <summary>The history policy: --policy, else LEDGER_POLICY, else the cache-aware default.</summary>
    /// <exception cref="FormatException">The name is not a policy; the message says what was wrong.</exception>
    public static IHistoryPolicy Policy(string? option, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        var spec = !string.IsNullOrWhiteSpace(option) ? option : environment("LEDGER_POLICY");
        return string.IsNullOrWhiteSpace(spec) ? LedgerOptions.DefaultPolicy
            : HistoryPolicies.TryParse(spec, out var policy, out var error) ? policy : throw new FormatException(error);
    }

    /// <summary>The store used when none is configured.</summary>
    public static StoreLocation DefaultStore(Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        return new StoreLocation(StoreKind.Sqlite, DefaultDatabasePath(environment));
    }

    /// <summary>$XDG_DATA_HOME/ledger/ledger.db, or ~/.local/share/ledger/ledger.db.</summary>
    public static string DefaultDatabasePath(Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        var data = environment("XDG_DATA_HOME");
        if (string.IsNullOrWhiteSpace(data))
        {
            var home = environment("HOME") is { Length: > 0 } h ? h : System.Environment.GetFolderPath(System.Environment.SpecialFolder.UserProfile);
            data = Path.Combine(home, ".local", "share");
        }
        return Path.Combine(data, "ledger", "ledger.db");
    }
}
