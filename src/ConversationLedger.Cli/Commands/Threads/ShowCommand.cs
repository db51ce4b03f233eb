using System.ComponentModel;
using ConversationLedger.Cli.Commands;
using ConversationLedger.Cli.Hosting;
using ConversationLedger.Cli.Rendering;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ConversationLedger.Cli.Commands.Threads;

/// <summary><c>ledger show THREAD</c>.</summary>
[Description("Show a thread's conversation (checked against the alternation rules)")]
public sealed class ShowCommand(CliServices services) : ThreadCommand<ShowCommand.Settings>(services)
{
    /// <summary>Options of <c>ledger show</c>.</summary>
    public sealed class Settings : ThreadSettings
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

    /// <inheritdoc />
    protected override bool Paged => true;

    /// <inheritdoc />
    protected override StoreAccess Access => StoreAccess.ReadOnly;

    /// <inheritdoc />
    protected override ValidationResult ValidateMore(Settings settings) =>
        settings.Last is <= 0 ? ValidationResult.Error($"--last {settings.Last}: give how many, 1 or more") : base.ValidateMore(settings);

    /// <inheritdoc />
    protected override async Task<int> RunAsync(Settings settings, CancellationToken cancellationToken)
    {
        await using var session = await OpenAsync(settings, withModel: false, cancellationToken);
        // What has been written when Ctrl+C comes, and of how many.
        var (shown, of, what) = (0, 0, "messages");
        try
        {
            var conversation = await session.OpenExistingAsync(settings.Thread, cancellationToken);
            // Loading validates: a damaged thread is reported, not shown as if it were fine.
            var view = await conversation.LoadAsync(cancellationToken);
            if (settings.All)
            {
                what = "entries";
                var entries = new List<LedgerEntry>();
                if (settings.Last is { } last)
                {
                    // The newest entries only: read from there, not the whole thread.
                    entries.AddRange(await session.Store.ReadEntriesAsync(conversation.Key, Math.Max(0, view.Head.LastSequence - last), last, cancellationToken));
                }
                else
                {
                    await foreach (var entry in session.Store.ReadAllAsync(conversation.Key, cancellationToken: cancellationToken))
                    {
                        entries.Add(entry);
                    }
                }
                if (settings.Json)
                {
                    JsonViews.WriteEntries(Console, conversation.Key, entries);
                    return 0;
                }
                if (entries.Count > 0 && entries[0].Sequence > 1)
                {
                    Console.MarkupLine($"[dim]… {entries[0].Sequence - 1} earlier entries (without --last: all of them)[/]");
                }
                of = entries.Count;
                ThreadViews.WriteEntries(Console, entries, rows => shown = rows, cancellationToken);
            }
            else if (settings.Json)
            {
                JsonViews.WriteConversation(Console, view, settings.Last);
                return 0;
            }
            else
            {
                var messages = ThreadViews.WriteConversationHeader(Console, view, settings.Last);
                of = messages.Count;
                foreach (var message in messages)
                {
                    // A long thread takes a while to draw: Ctrl+C stops it between messages.
                    cancellationToken.ThrowIfCancellationRequested();
                    ThreadViews.WriteMessage(Console, message);
                    shown++;
                }
            }
            Console.MarkupLine($"[green]valid:[/] [dim]{view.Messages.Count} messages alternate user/assistant[/]");
            return 0;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Services.Errors.MarkupLine(of == 0
                ? "[yellow]cancelled before anything was shown[/]"
                : $"[yellow]cancelled after showing {shown:N0} of {of:N0} {what}[/]");
            return CommandGuard.CancelledExitCode;
        }
    }
}
