using System.ComponentModel;
using ConversationLedger.Cli.Hosting;
using ConversationLedger.Cli.Rendering;
using ConversationLedger.Storage;
using Spectre.Console;

namespace ConversationLedger.Cli.Commands;

/// <summary><c>ledger info</c>.</summary>
[Description("Where the data is and what a command would use: store, scope, model, policy, Claude or the emulator (never the key)")]
public sealed class InfoCommand(CliServices services) : LedgerCommand<LedgerSettings>(services)
{
    /// <inheritdoc />
    protected override StoreAccess Access => StoreAccess.ReadOnly;

    /// <inheritdoc />
    protected override async Task<int> RunAsync(LedgerSettings settings, CancellationToken cancellationToken)
    {
        var environment = Services.Environment;
        string Source(string? option, string optionName, string variable) =>
            !string.IsNullOrWhiteSpace(option) ? "from " + optionName : environment(variable) is { Length: > 0 } ? "from " + variable : "default";
        var table = new TextTable { Headers = false }.Text("what").Text("value");
        void Line(string name, string value) => table.Row(new TextTable.Cell(name, "bold"), new TextTable.Cell(value));

        Line("version", LedgerApp.Version);
        var location = CliDefaults.Store(settings.Store, environment);
        Line("store", $"{Describe(location)} ({Source(settings.Store, "--store", "LEDGER_STORE")})");
        if (location.Kind == StoreKind.Sqlite && !location.Target.Contains('=', StringComparison.Ordinal))
        {
            var file = new FileInfo(location.Target);
            Line("", file.Exists ? $"{file.Length:N0} bytes{(file.IsReadOnly ? ", read-only" : "")}" : "does not exist yet (the first command that writes creates it)");
        }
        Line("threads", await CountThreadsAsync(settings, cancellationToken));
        var files = Chat.ThreadFiles.For(location, environment, new ThreadKey(CliDefaults.Tenant, settings.Scope, CliDefaults.Thread)).Base;
        Line("chat files", files is null ? "none (kept only for the chat)"
            : $"{Path.GetDirectoryName(Path.GetDirectoryName(Path.GetDirectoryName(files)))} (input history and remembered settings per thread)");
        Line("scope", $"{settings.Scope} (tenant {CliDefaults.Tenant})");
        var model = CliDefaults.ModelId(settings.Model, environment);
        Line("model", $"{model} ({Source(settings.Model, "--model", "LEDGER_MODEL")})"
            + (ModelCatalog.Default.TryGet(model, out var info) ? $"; context window {info.ContextWindow:N0} tokens" : "; not a known model"));
        var policy = CliDefaults.Policy(settings.Policy, environment);
        Line("policy", $"{policy} ({Source(settings.Policy, "--policy", "LEDGER_POLICY")}); a chat remembers the one last chosen for its thread");
        if (!string.IsNullOrWhiteSpace(environment("ANTHROPIC_API_KEY")))
        {
            // Never the key, nor any part of it: that it is set is all anyone needs here.
            Line("replies", "Claude: ANTHROPIC_API_KEY is set" + (environment("ANTHROPIC_BASE_URL") is { Length: > 0 } url ? $", at ANTHROPIC_BASE_URL {url}" : ""));
        }
        else
        {
            Line("replies", "the local emulator (no ANTHROPIC_API_KEY)" + (environment(EmulatorHost.FaultVariable) is { Length: > 0 } fault ? $", with {EmulatorHost.FaultVariable}={fault}" : ""));
        }
        Line("pager", Services.Pager is ProcessPager pager ? pager.Command ?? "none" : Output.IsTerminal(Console) ? "none" : "none (output is not a terminal)");
        table.Write(Console, cancellationToken: cancellationToken);
        return 0;
    }

    // The store without secrets: a file by its path, a server by host and database, never a password.
    private static string Describe(StoreLocation location)
    {
        try
        {
            switch (location.Kind)
            {
                case StoreKind.Sqlite:
                    return "SQLite " + (location.Target.Contains('=', StringComparison.Ordinal)
                        ? new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(location.Target).DataSource
                        : Path.GetFullPath(location.Target));
                case StoreKind.Postgres:
                    var pg = new Npgsql.NpgsqlConnectionStringBuilder(location.Target);
                    return $"PostgreSQL {pg.Host}:{pg.Port}, database {pg.Database ?? "(the user's)"}, user {pg.Username ?? "(default)"}";
                case StoreKind.Redis:
                    return "Redis " + string.Join(", ", StackExchange.Redis.ConfigurationOptions.Parse(location.Target).EndPoints);
                default:
                    return "memory (nothing is kept after the command)";
            }
        }
        catch (ArgumentException)
        {
            return location.ToString();
        }
    }

    private async Task<string> CountThreadsAsync(LedgerSettings settings, CancellationToken cancellationToken)
    {
        try
        {
            await using var session = await OpenAsync(settings, withModel: false, cancellationToken);
            var page = await session.Store.ListThreadsAsync(session.Tenant, session.Scope, new PageRequest(Limit: PageRequest.MaxLimit), cancellationToken);
            return $"{page.Threads.Count}{(page.NextCursor is null ? "" : "+")} in scope {settings.Scope}";
        }
        catch (Exception ex) when (ErrorLine.IsExpected(ex))
        {
            // What is wrong with the store is part of the answer, not a reason to withhold the rest.
            return "cannot be read: " + ex.Message.ReplaceLineEndings(" ");
        }
    }
}
