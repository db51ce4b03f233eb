using System.ComponentModel;
using ConversationLedger.Cli.Commands;
using ConversationLedger.Cli.Hosting;
using ConversationLedger.Server;
using ConversationLedger.Server.State;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ConversationLedger.Cli.Commands.Service;

/// <summary><c>ledger serve</c>: the conversation service (HTTP API, reference page at /docs) until Ctrl+C or SIGTERM.</summary>
[Description("Run the conversation service: a multi-tenant HTTP API over the ledger (reference page at /docs)")]
public sealed class ServeCommand(CliServices services) : AsyncCommand<ServeCommand.Settings>
{
    /// <summary>Options of <c>ledger serve</c>.</summary>
    public sealed class Settings : CommandSettings
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

    /// <inheritdoc />
    public override Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken) =>
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
