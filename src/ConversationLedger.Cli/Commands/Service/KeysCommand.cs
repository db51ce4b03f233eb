using ConversationLedger.Cli.Hosting;
using ConversationLedger.Server;
using ConversationLedger.Server.State;
using Spectre.Console.Cli;

namespace ConversationLedger.Cli.Commands.Service;

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
