using System.ComponentModel;
using ConversationLedger.Cli.Commands;
using ConversationLedger.Cli.Hosting;
using ConversationLedger.Cli.Rendering;
using ConversationLedger.Storage;
using Spectre.Console.Cli;
using Spectre.Console;

namespace ConversationLedger.Cli.Commands.Threads;

/// <summary><c>ledger search TEXT</c>.</summary>
[Description("Find text in the messages (edits, system prompts and summaries too) of every thread of the scope")]
public sealed class SearchCommand(CliServices services) : LedgerCommand<SearchCommand.Settings>(services)
{
    /// <summary>Options of <c>ledger search</c>.</summary>
    public sealed class Settings : LedgerSettings
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

    /// <inheritdoc />
    protected override bool Paged => true;

    /// <inheritdoc />
    protected override StoreAccess Access => StoreAccess.ReadOnly;

    /// <inheritdoc />
    protected override ValidationResult ValidateMore(Settings settings) =>
        string.IsNullOrWhiteSpace(settings.Text) ? ValidationResult.Error("give the text to find")
        : settings.Limit is > 0 and <= 10_000 ? ValidationResult.Success()
        : ValidationResult.Error("--limit must be 1–10000");

    /// <inheritdoc />
    protected override async Task<int> RunAsync(Settings settings, CancellationToken cancellationToken)
    {
        await using var session = await OpenAsync(settings, withModel: false, cancellationToken);
        var matches = new List<SearchMatch>();
        var threads = 0;
        var more = false;
        await foreach (var head in session.Store.ListAllThreadsAsync(session.Tenant, session.Scope, cancellationToken))
        {
            threads++;
            // The whole ledger of each thread, archive included: what was reset away is still there to be found.
            await foreach (var entry in session.Store.ReadAllAsync(head.Key, cancellationToken: cancellationToken))
            {
                if (SearchMatch.Find(head.Key, entry, settings.Text) is not { } match)
                {
                    continue;
                }
                if (matches.Count == settings.Limit)
                {
                    more = true;
                    break;
                }
                matches.Add(match);
            }
            if (more)
            {
                break;
            }
        }
        if (settings.Json)
        {
            JsonViews.WriteSearch(Console, settings.Text, matches, more);
            return 0;
        }
        var terminal = Output.IsTerminal(Console);
        foreach (var match in matches)
        {
            var what = $"{match.Key.ThreadId} #{match.Entry.Sequence} {match.Role ?? EntryCodec.KindName(match.Entry.Kind)}";
            if (terminal)
            {
                var s = match.Snippet;
                Console.MarkupLine($"[bold]{Markup.Escape(match.Key.ThreadId)}[/] [dim]#{match.Entry.Sequence} {Markup.Escape(match.Role ?? EntryCodec.KindName(match.Entry.Kind))}:[/] "
                    + $"{Markup.Escape(s[..match.At])}[bold yellow]{Markup.Escape(s.Substring(match.At, match.Length))}[/]{Markup.Escape(s[(match.At + match.Length)..])}");
            }
            else
            {
                Output.WriteRaw(Console, $"{what}: {match.Snippet}\n");
            }
        }
        var found = matches.Select(m => m.Key).Distinct().Count();
        Console.MarkupLine(matches.Count == 0
            ? $"[dim]no match in {threads} thread{(threads == 1 ? "" : "s")} of scope {Markup.Escape(session.Scope)}[/]"
            : $"[dim]{matches.Count} match{(matches.Count == 1 ? "" : "es")} in {found} thread{(found == 1 ? "" : "s")}"
                + (more ? $"; more exist (--limit {settings.Limit} stopped the search)" : $" of the {threads} in scope {Markup.Escape(session.Scope)}") + "[/]");
        return 0;
    }
}
