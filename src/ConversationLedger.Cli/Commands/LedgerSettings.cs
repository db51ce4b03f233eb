using System.ComponentModel;
using Spectre.Console.Cli;

namespace ConversationLedger.Cli.Commands;

/// <summary>Options every ledger command takes: where the ledger is and which scope.</summary>
public class LedgerSettings : CommandSettings
{
    /// <summary>The store URI (else LEDGER_STORE, else the default SQLite file).</summary>
    [CommandOption("--store <URI>")]
    [Description("sqlite:PATH, postgres:CONNECTION-STRING, redis:CONFIG or memory: (default: LEDGER_STORE, else $XDG_DATA_HOME/ledger/ledger.db, else ~/.local/share/ledger/ledger.db)")]
    public string? Store { get; set; }

    /// <summary>The scope (context id: a ticket, a document, a task).</summary>
    [CommandOption("--scope <ID>")]
    [Description("The scope the threads belong to (a ticket, a document, a task)")]
    [DefaultValue("default")]
    public string Scope { get; set; } = "default";

    /// <summary>The model (else LEDGER_MODEL, else claude-sonnet-5-5).</summary>
    [CommandOption("--model <MODEL>")]
    [Description("The model id (default: LEDGER_MODEL, else claude-sonnet-5-5)")]
    public string? Model { get; set; }

    /// <summary>The history policy (else LEDGER_POLICY, else the cache-aware default).</summary>
    [CommandOption("--policy <NAME>")]
    [Description("What each request carries: a history policy, see POLICIES below (default: LEDGER_POLICY, else default)")]
    public string? Policy { get; set; }
}

/// <summary>Options of commands about one thread given as an argument.</summary>
public class ThreadSettings : LedgerSettings
{
    /// <summary>The thread id.</summary>
    [CommandArgument(0, "<THREAD>")]
    [Description("The thread id")]
    public string Thread { get; set; } = "";
}
