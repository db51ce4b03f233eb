using System.ComponentModel;
using ConversationLedger.Cli.Hosting;
using ConversationLedger.Server;
using ConversationLedger.Server.State;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ConversationLedger.Cli.Commands;

/// <summary>Options of <c>ledger serve</c>.</summary>
public sealed class ServeSettings : CommandSettings
{
    /// <summary>The store URI (else LEDGER_STORE, else the default SQLite file).</summary>
    [CommandOption("--store <URI>")]
    [Description("sqlite:PATH, postgres:CONNECTION-STRING or redis:CONFIG (default: LEDGER_STORE, else the default SQLite file)")]
    public string? Store { get; set; }

    /// <summary>Where the service keeps its own tables (keys, threads' settings, turn records).</summary>
    [CommandOption("--state <URI>")]
    [Description("sqlite:PATH or postgres:CONNECTION-STRING for the service's own tables (default: the store's database; required with Redis)")]
    public string? State { get; set; }

    /// <summary>The addresses to listen on.</summary>
    [CommandOption("--urls <URLS>")]
    [Description("Where to listen (default: http://127.0.0.1:5080)")]
    [DefaultValue("http://127.0.0.1:5080")]
    public string Urls { get; set; } = "http://127.0.0.1:5080";
}

/// <summary><c>ledger serve</c>: the conversation service (HTTP API, reference page at /docs) until Ctrl+C or SIGTERM.</summary>
[Description("Run the conversation service: a multi-tenant HTTP API over the ledger (reference page at /docs)")]
public sealed class ServeCommand(CliServices services) : AsyncCommand<ServeSettings>
{
    /// <inheritdoc />
    public override Task<int> ExecuteAsync(CommandContext context, ServeSettings settings, CancellationToken cancellationToken) =>
        CommandGuard.RunAsync(services, async () =>
        {
            ArgumentNullException.ThrowIfNull(settings);
            var store = CliDefaults.Store(settings.Store, services.Environment);
            if (store.Kind == StoreKind.Memory)
            {
                throw new LedgerException("the service needs a store every instance can reach: sqlite:PATH, postgres:… or redis:…");
            }
            List<string> args = ["--urls", settings.Urls, $"--Server:Store={Setting(store)}"];
            if (settings.State is { } state)
            {
                args.Add($"--Server:State={state}");
            }
            await using var app = LedgerServer.Build([.. args]);
            await app.StartAsync(cancellationToken);
            services.Console.WriteLine($"listening on {string.Join(", ", app.Urls)} (API reference at /docs)");
            if ((await app.Services.GetRequiredService<ServiceState>().ListKeysAsync(null, cancellationToken)).Count == 0)
            {
                services.Console.MarkupLine("[dim]no API keys yet: create one with[/] ledger keys create TENANT");
            }
            await app.WaitForShutdownAsync(cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default);
            await app.StopAsync(CancellationToken.None);
            return 0;
        }, cancellationToken, () => CliDefaults.Store(settings.Store, services.Environment));

    internal static string Setting(StoreLocation store) => store.Kind switch
    {
        StoreKind.Postgres => "postgres:" + store.Target,
        StoreKind.Redis => "redis:" + store.Target,
        _ => "sqlite:" + store.Target,
    };
}

/// <summary>Options of <c>ledger keys</c>.</summary>
public class KeysSettings : CommandSettings
{
    /// <summary>The store whose database holds the service's tables.</summary>
    [CommandOption("--store <URI>")]
    [Description("The service's store (default: LEDGER_STORE, else the default SQLite file)")]
    public string? Store { get; set; }

    /// <summary>Where the service keeps its own tables, when not in the store's database.</summary>
    [CommandOption("--state <URI>")]
    [Description("sqlite:PATH or postgres:CONNECTION-STRING, as given to ledger serve --state")]
    public string? State { get; set; }
}

/// <summary>Options of <c>ledger keys create</c>.</summary>
public sealed class KeyCreateSettings : KeysSettings
{
    /// <summary>The tenant the key acts for.</summary>
    [CommandArgument(0, "<TENANT>")]
    [Description("The tenant the key acts for")]
    public string Tenant { get; set; } = "";

    /// <summary>A name to recognize the key by.</summary>
    [CommandOption("--name <NAME>")]
    [Description("A name to recognize the key by")]
    public string Name { get; set; } = "";
}

/// <summary>Options of <c>ledger keys list</c>.</summary>
public sealed class KeyListSettings : KeysSettings
{
    /// <summary>Only this tenant's keys.</summary>
    [CommandOption("--tenant <TENANT>")]
    [Description("Only this tenant's keys")]
    public string? Tenant { get; set; }
}

/// <summary>Options of <c>ledger keys revoke</c>.</summary>
public sealed class KeyRevokeSettings : KeysSettings
{
    /// <summary>The key's id (key_…).</summary>
    [CommandArgument(0, "<ID>")]
    [Description("The key's id, as keys list shows it (key_…)")]
    public string Id { get; set; } = "";
}

/// <summary>The service's API keys: each is shown once when created, stored only as a hash, and revoked at once for every instance.</summary>
public abstract class KeysCommand<T>(CliServices services) : AsyncCommand<T> where T : KeysSettings
{
    /// <summary>The command's services.</summary>
    protected CliServices Services { get; } = services;

    /// <summary>Where the service's tables are, once <see cref="Open"/> read it: error lines from its driver name it.</summary>
    protected StoreLocation? Location { get; private set; }

    /// <summary>Opens the service's tables.</summary>
    protected ServiceState Open(KeysSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var text = settings.State ?? ServeCommand.Setting(CliDefaults.Store(settings.Store, Services.Environment));
        var state = StoreSetting.Parse(text, "--state");
        Location = state.Kind == "postgres" ? new StoreLocation(StoreKind.Postgres, state.Target) : new StoreLocation(StoreKind.Sqlite, state.Target);
        return state.Kind switch
        {
            "postgres" => ServiceState.Postgres(state.Target),
            "sqlite" => ServiceState.Sqlite(state.Target),
            _ => throw new LedgerException("with a Redis store, give --state (sqlite:PATH or postgres:CONNECTION-STRING) as ledger serve got it"),
        };
    }
}

/// <summary><c>ledger keys create TENANT</c>.</summary>
[Description("Create an API key for a tenant (the key is shown once)")]
public sealed class KeyCreateCommand(CliServices services) : KeysCommand<KeyCreateSettings>(services)
{
    /// <inheritdoc />
    public override Task<int> ExecuteAsync(CommandContext context, KeyCreateSettings settings, CancellationToken cancellationToken) =>
        CommandGuard.RunAsync(Services, async () =>
        {
            await using var state = Open(settings);
            var (key, secret) = await state.CreateKeyAsync(settings.Tenant, settings.Name, cancellationToken);
            Services.Errors.MarkupLine($"[dim]key {key.Id} for tenant {Markup.Escape(key.Tenant)}; it is shown only now:[/]");
            Services.Console.WriteLine(secret);
            return 0;
        }, cancellationToken, () => Location);
}

/// <summary><c>ledger keys list</c>.</summary>
[Description("List API keys (never their secrets)")]
public sealed class KeyListCommand(CliServices services) : KeysCommand<KeyListSettings>(services)
{
    /// <inheritdoc />
    public override Task<int> ExecuteAsync(CommandContext context, KeyListSettings settings, CancellationToken cancellationToken) =>
        CommandGuard.RunAsync(Services, async () =>
        {
            await using var state = Open(settings);
            var keys = await state.ListKeysAsync(settings.Tenant, cancellationToken);
            var table = new Table().AddColumns("id", "tenant", "name", "starts with", "created", "status");
            foreach (var k in keys)
            {
                table.AddRow(k.Id, Markup.Escape(k.Tenant), Markup.Escape(k.Name), k.Prefix + "…", k.CreatedAt.ToString("u", System.Globalization.CultureInfo.InvariantCulture),
                    k.Active ? "active" : "revoked " + k.RevokedAt!.Value.ToString("u", System.Globalization.CultureInfo.InvariantCulture));
            }
            Services.Console.Write(table);
            return 0;
        }, cancellationToken, () => Location);
}

/// <summary><c>ledger keys revoke ID</c>.</summary>
[Description("Revoke an API key (at once, for every instance)")]
public sealed class KeyRevokeCommand(CliServices services) : KeysCommand<KeyRevokeSettings>(services)
{
    /// <inheritdoc />
    public override Task<int> ExecuteAsync(CommandContext context, KeyRevokeSettings settings, CancellationToken cancellationToken) =>
        CommandGuard.RunAsync(Services, async () =>
        {
            await using var state = Open(settings);
            if (!await state.RevokeKeyAsync(settings.Id, cancellationToken))
            {
                throw new LedgerNotFoundException($"no active key {settings.Id}");
            }
            Services.Console.WriteLine($"revoked {settings.Id}");
            return 0;
        }, cancellationToken, () => Location);
}
