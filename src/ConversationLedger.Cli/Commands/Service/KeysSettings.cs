using System.ComponentModel;
using Spectre.Console.Cli;

namespace ConversationLedger.Cli.Commands.Service;

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
