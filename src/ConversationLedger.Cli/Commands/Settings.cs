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

/// <summary>Options of <c>ledger chat</c>.</summary>
public sealed class ChatSettings : LedgerSettings
{
    /// <summary>The thread to talk in; resumed if it exists.</summary>
    [CommandOption("-t|--thread <ID>")]
    [Description("The thread to talk in; resumed when it exists")]
    [DefaultValue("default")]
    public string Thread { get; set; } = "default";

    /// <summary>The most tokens a reply may have.</summary>
    [CommandOption("--max-tokens <N>")]
    [Description("The most tokens a reply may have (default 1024; a thinking budget comes on top)")]
    public int? MaxTokens { get; set; }

    /// <summary>The system prompt, or @file to read it from a file.</summary>
    [CommandOption("--system <TEXT>")]
    [Description("Sets the system prompt (TEXT or @file); a change is recorded in the ledger")]
    public string? System { get; set; }

    /// <summary>Extended thinking: adaptive, off, between-tools or a token budget (null: the model's default).</summary>
    [CommandOption("--thinking <MODE>")]
    [Description("Thinking: adaptive, off, between-tools, or a token budget (at least 1024, for models that take budgets); default: the model's own. Thinking streams dimly before each reply")]
    public string? Thinking { get; set; }

    /// <summary>The effort level (output_config.effort).</summary>
    [CommandOption("--effort <LEVEL>")]
    [Description("How much effort the model spends: low, medium, high or max (as the model allows); default: the API's (high)")]
    public string? Effort { get; set; }

    /// <summary>What adaptive thinking shows.</summary>
    [CommandOption("--thinking-display <DISPLAY>")]
    [Description("What adaptive thinking returns: summarized (readable) or omitted (signature only; the reply starts sooner); default: the model's")]
    public string? ThinkingDisplay { get; set; }

    /// <summary>The thinking setting these options ask for, or null for the model's default.</summary>
    public ThinkingOptions? ThinkingOptions() => Thinking?.ToLowerInvariant() switch
    {
        null when ThinkingDisplay is null => null,
        null or "adaptive" => new ThinkingOptions { Display = ThinkingDisplay },
        "off" => ConversationLedger.ThinkingOptions.Off,
        "between-tools" => new ThinkingOptions { Mode = ThinkingMode.BetweenTools },
        var budget => ConversationLedger.ThinkingOptions.WithBudget(int.Parse(budget, global::System.Globalization.CultureInfo.InvariantCulture)),
    };
}

/// <summary>Options of <c>ledger threads</c>.</summary>
public sealed class ThreadsSettings : LedgerSettings
{
    /// <summary>The most threads to list.</summary>
    [CommandOption("--limit <N>")]
    [Description("The most threads to list")]
    [DefaultValue(50)]
    public int Limit { get; set; } = 50;

    /// <summary>Whether to print JSON instead of a table.</summary>
    [CommandOption("--json")]
    [Description("Print the threads as one JSON document (docs/cli.md gives its shape)")]
    public bool Json { get; set; }
}

/// <summary>Options of <c>ledger show</c>.</summary>
public sealed class ShowSettings : ThreadSettings
{
    /// <summary>Whether to show every entry, archive and events included.</summary>
    [CommandOption("--all")]
    [Description("Show every ledger entry (archive, events, usage), not just the current conversation")]
    public bool All { get; set; }

    /// <summary>Only the newest N messages (with --all: entries).</summary>
    [CommandOption("--last <N>")]
    [Description("Only the newest N messages (with --all: the newest N entries)")]
    public int? Last { get; set; }

    /// <summary>Whether to print JSON instead of text.</summary>
    [CommandOption("--json")]
    [Description("Print the conversation (with --all: the entries) as one JSON document (docs/cli.md gives its shape)")]
    public bool Json { get; set; }
}

/// <summary>Options of <c>ledger inspect</c>.</summary>
public sealed class InspectSettings : ThreadSettings
{
    /// <summary>The next user message to preview.</summary>
    [CommandOption("-m|--message <TEXT>")]
    [Description("The next user message to preview the request with")]
    [DefaultValue("(your next message)")]
    public string Message { get; set; } = "(your next message)";

    /// <summary>Whether to print only the request body, exactly as it would be sent (one line).</summary>
    [CommandOption("--raw")]
    [Description("Print only the request body, byte for byte as it would be sent")]
    public bool Raw { get; set; }

    /// <summary>Whether to print the preview as JSON.</summary>
    [CommandOption("--json")]
    [Description("Print the preview (parts, tokens, cost estimate and the body) as one JSON document (docs/cli.md gives its shape)")]
    public bool Json { get; set; }
}

/// <summary>Options of <c>ledger usage</c>.</summary>
public sealed class UsageSettings : LedgerSettings
{
    /// <summary>The thread id (null: <c>default</c>, unless <see cref="All"/>).</summary>
    [CommandArgument(0, "[THREAD]")]
    [Description("The thread id (default: default)")]
    public string? Thread { get; set; }

    /// <summary>Whether to sum the usage of every thread of the scope.</summary>
    [CommandOption("--all")]
    [Description("Every thread of the scope: a row per thread (or per day with --by day) and the total, each call counted once (what forks copied from their parents is counted where it was paid for)")]
    public bool All { get; set; }

    /// <summary>How to group the calls: <c>day</c>, or null for the default (per call for a thread, per thread with --all).</summary>
    [CommandOption("--by <PERIOD>")]
    [Description("Group the calls: day (by the local date each call was recorded)")]
    public string? By { get; set; }

    /// <summary>Whether to print JSON instead of a table and charts.</summary>
    [CommandOption("--json")]
    [Description("Print every call and the totals as one JSON document (docs/cli.md gives its shape)")]
    public bool Json { get; set; }
}

/// <summary>Options of <c>ledger search</c>.</summary>
public sealed class SearchSettings : LedgerSettings
{
    /// <summary>The text to find.</summary>
    [CommandArgument(0, "<TEXT>")]
    [Description("The text to find (ignoring case)")]
    public string Text { get; set; } = "";

    /// <summary>The most matches to list.</summary>
    [CommandOption("--limit <N>")]
    [Description("The most matches to list")]
    [DefaultValue(50)]
    public int Limit { get; set; } = 50;

    /// <summary>Whether to print JSON.</summary>
    [CommandOption("--json")]
    [Description("Print the matches as one JSON document (docs/cli.md gives its shape)")]
    public bool Json { get; set; }
}

/// <summary>Options of <c>ledger delete</c>.</summary>
public sealed class DeleteSettings : ThreadSettings
{
    /// <summary>Whether to delete without asking.</summary>
    [CommandOption("-y|--yes")]
    [Description("Delete without asking (needed when standard input is not a terminal)")]
    public bool Yes { get; set; }
}

/// <summary>Options of <c>ledger fork</c>.</summary>
public sealed class ForkSettings : ThreadSettings
{
    /// <summary>The entry to fork after (default: the newest).</summary>
    [CommandOption("--at <N>")]
    [Description("Fork after entry N (default: the newest)")]
    public string? At { get; set; }

    /// <summary>The entry <see cref="At"/> names, or null when it names none (or is not a number).</summary>
    public long? AtEntry => long.TryParse(At, global::System.Globalization.NumberStyles.None, global::System.Globalization.CultureInfo.InvariantCulture, out var n) && n > 0 ? n : null;

    /// <summary>The new thread's id.</summary>
    [CommandOption("--to <ID>")]
    [Description("The new thread's id (default: THREAD-fork-XXXX)")]
    public string? To { get; set; }
}

/// <summary>Options of <c>ledger export</c>.</summary>
public sealed class ExportSettings : ThreadSettings
{
    /// <summary>The file to write (default: standard output).</summary>
    [CommandOption("-o|--output <FILE>")]
    [Description("The file to write (default: standard output)")]
    public string? Output { get; set; }

    /// <summary>Whether an existing file may be overwritten.</summary>
    [CommandOption("--force")]
    [Description("Overwrite the file when it exists")]
    public bool Force { get; set; }
}

/// <summary>Options of <c>ledger import</c>.</summary>
public sealed class ImportSettings : LedgerSettings
{
    /// <summary>The file to read.</summary>
    [CommandArgument(0, "<FILE>")]
    [Description("An export written by ledger export")]
    public string File { get; set; } = "";

    /// <summary>The thread to import into (default: the id in the file).</summary>
    [CommandOption("--as <ID>")]
    [Description("The thread id to import as (default: the one in the file)")]
    public string? As { get; set; }
}

/// <summary>Options of <c>ledger emulator</c>.</summary>
public sealed class EmulatorSettings : CommandSettings
{
    /// <summary>The loopback port (0 picks a free one).</summary>
    [CommandOption("-p|--port <N>")]
    [Description("The loopback port to listen on (default: a free one)")]
    [DefaultValue(0)]
    public int Port { get; set; }

    /// <summary>A fault applied to every request, e.g. <c>ttft:500,tps:5</c> (slow streaming) or <c>529</c>.</summary>
    [CommandOption("--fault <SPEC>")]
    [Description("A fault for every request: 429[[:S]], 529, 500, drop, cut:K, error-event[[:K]], ttft:MS, tps:N (combine with commas)")]
    public string? Fault { get; set; }
}
