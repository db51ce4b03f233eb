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
    [Description("What each request carries: " + PolicyFormsMarkup + " (default: LEDGER_POLICY, else default)")]
    public string? Policy { get; set; }

    /// <summary>
    /// <see cref="HistoryPolicies.Forms"/> with its brackets escaped: help descriptions are Spectre markup, where
    /// <c>[:N]</c> would be read as a style (and every <c>--help</c> failed).
    /// </summary>
    public const string PolicyFormsMarkup = "default, keep-all, guide[[:N]], truncate:N, window:N[[/STEP]], summarize:N[[/STEP]] (N messages, or Nt tokens)";
}

/// <summary>Options of commands about one thread given as an argument.</summary>
public class ThreadSettings : LedgerSettings
{
    /// <summary>The thread id.</summary>
    [CommandArgument(0, "<THREAD>")]
    [Description("The thread id")]
    public string Thread { get; set; } = "";
}
