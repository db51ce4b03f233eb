using System.Globalization;
using ConversationLedger.Storage;
using Spectre.Console;

namespace ConversationLedger.Cli.Rendering;

/// <summary>
/// How threads, messages, entries and turns look. Shared by the one-shot commands and the chat's slash commands, so
/// <c>ledger show</c> and <c>/history</c> print the same thing.
/// </summary>
public static class ThreadViews
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>One message: who, its entry number (what /pin takes) and its text.</summary>
    public static void WriteMessage(IAnsiConsole console, LedgerMessage message)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(message);
        var who = message.Message.Role == Role.User ? "[bold green]you[/]" : "[bold blue]claude[/]";
        var marks = (message.Pinned ? " [yellow]pinned[/]" : "") + (message.Edited ? " [grey]edited[/]" : "");
        console.MarkupLine($"{who} [dim]#{message.Sequence}[/]{marks}");
        console.WriteLine(Describe(message.Message));
    }

    /// <summary>The last <paramref name="turns"/> turns of a conversation, with a note of how many came before.</summary>
    public static void WriteRecent(IAnsiConsole console, ConversationView view, int turns)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(view);
        var shown = view.Messages.TakeLast(turns * 2).ToArray();
        var earlier = view.Messages.Count - shown.Length;
        if (earlier > 0)
        {
            console.MarkupLine($"[dim]… {earlier} earlier message{(earlier == 1 ? "" : "s")} (/history shows all)[/]");
        }
        foreach (var message in shown)
        {
            WriteMessage(console, message);
        }
    }

    /// <summary>
    /// The current conversation: system prompt, summary, messages since the newest reset — the newest
    /// <paramref name="last"/> messages only when it is given.
    /// </summary>
    public static void WriteConversation(IAnsiConsole console, ConversationView view, int? last = null)
    {
        foreach (var message in WriteConversationHeader(console, view, last))
        {
            WriteMessage(console, message);
        }
    }

    /// <summary>
    /// What <see cref="WriteConversation"/> writes before the messages (the thread, its system prompt and summary, how
    /// many messages are left out); returns the messages to write after it.
    /// </summary>
    public static IReadOnlyList<LedgerMessage> WriteConversationHeader(IAnsiConsole console, ConversationView view, int? last = null)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(view);
        var head = view.Head;
        console.MarkupLine($"[bold]{Markup.Escape(head.Key.ToString())}[/] [dim]{head.LastSequence} entries · {view.Messages.Count} messages now"
            + (head.ResetSequence > 0 ? $" · reset at #{head.ResetSequence} (earlier entries archived: --all)" : "") + "[/]");
        if (view.SystemPrompt is { } system)
        {
            console.MarkupLine($"[bold]system[/] [dim]{Markup.Escape(Formats.Shorten(console, system, 200))}[/]");
        }
        if (view.Summary is { } summary)
        {
            console.MarkupLine($"[bold]summary[/] [dim]of #{summary.FromSequence}–#{summary.ThroughSequence}: {Markup.Escape(Formats.Shorten(console, summary.Text, 200))}[/]");
        }
        var shown = last is { } n ? view.Messages.TakeLast(n).ToArray() : view.Messages;
        if (shown.Count < view.Messages.Count)
        {
            var earlier = view.Messages.Count - shown.Count;
            console.MarkupLine($"[dim]… {earlier} earlier message{(earlier == 1 ? "" : "s")} (without --last: all of them)[/]");
        }
        return shown;
    }

    /// <summary>
    /// Entries of the ledger, events included: what happened, in order (on a terminal each cut to a line). A long table
    /// is written in parts, so Ctrl+C stops it between them; <paramref name="written"/> hears how many rows are out.
    /// </summary>
    public static void WriteEntries(IAnsiConsole console, IEnumerable<LedgerEntry> entries, Action<int>? written = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(entries);
        var table = new TextTable().Figure("#").Text("kind").Text("when").Text("what");
        foreach (var entry in entries)
        {
            table.Row(
                entry.Sequence.ToString(Invariant),
                EntryCodecName(entry),
                entry.RecordedAt.ToString("yyyy-MM-dd HH:mm:ss", Invariant),
                Formats.Shorten(console, DescribeEntry(entry), 100));
        }
        table.Write(console, written, cancellationToken);
    }

    /// <summary>
    /// The dim line after each turn: tokens, cost and how full the context window was; a warning when the reported
    /// fill reached <paramref name="warnAt"/> and the estimate before the call had not already warned.
    /// </summary>
    public static void WriteTurnFooter(IAnsiConsole console, TurnResult turn, double warnAt)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(turn);
        var usage = turn.Usage;
        var fill = turn.ContextWindow > 0
            ? $"context {Formats.Percent(turn.ContextFill, 1)} of {Formats.Count(turn.ContextWindow)}"
            : "context window unknown";
        console.MarkupLine($"[dim]in {Formats.Count(usage.InputTokens)} · out {Formats.Count(usage.OutputTokens)}"
            + $" · cache read {Formats.Count(usage.CacheReadInputTokens)} write {Formats.Count(usage.CacheCreationInputTokens)}"
            + $" · {Formats.Money(turn.CostUsd)} · {turn.MessagesSent} message{(turn.MessagesSent == 1 ? "" : "s")} sent · {fill}[/]");
        if (turn.StopReason is "max_tokens")
        {
            console.MarkupLine($"[yellow]the reply was cut at max_tokens ({Formats.Count(turn.Request.Request.MaxTokens)}); /max-tokens N raises it[/]");
        }
        else if (turn.StopReason is "refusal" or "model_context_window_exceeded" or "pause_turn")
        {
            console.MarkupLine($"[yellow]the reply stopped: {turn.StopReason}[/]");
        }
        if (!turn.ContextWarning && turn.ContextFill >= warnAt)
        {
            console.MarkupLine($"[bold yellow]warning: the context window is {Formats.Percent(turn.ContextFill, 0)} full; /reset starts afresh (the archive stays readable)[/]");
        }
    }

    /// <summary>A table of threads, newest activity first.</summary>
    public static void WriteThreads(IAnsiConsole console, IReadOnlyList<ThreadHead> threads, string? current = null)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(threads);
        if (threads.Count == 0)
        {
            console.MarkupLine("[dim]no threads yet: ledger chat starts one[/]");
            return;
        }
        var table = new TextTable().Text("thread").Text("scope").Figure("entries").Figure("messages").Figure("tokens").Text("updated");
        foreach (var head in threads)
        {
            table.Row(
                new TextTable.Cell(head.Key.ThreadId + (head.Key.ThreadId == current ? " (here)" : ""), head.Key.ThreadId == current ? "bold" : null),
                new(head.Key.Scope),
                new(head.LastSequence.ToString(Invariant)),
                new(head.RunningMessages.ToString(Invariant)),
                new(Formats.Count(head.RunningTokens)),
                new(head.UpdatedAt.ToLocalTime().ToString("yyyy-MM-dd HH:mm", Invariant)));
        }
        table.Write(console);
    }

    private static string Describe(Message message)
    {
        // Non-text blocks (tool calls, images, thinking) are named so the shape of the turn stays visible.
        var parts = message.Content.Select(b => b.Type == "text" ? b.Text : $"[{b.Type}]");
        return string.Join("\n", parts);
    }

    private static string EntryCodecName(LedgerEntry entry) => EntryCodec.KindName(entry.Kind);

    private static string DescribeEntry(LedgerEntry entry) => entry switch
    {
        MessageEntry m => $"{m.Message.Role}: {m.Message.Text}",
        SystemPromptEntry s => $"system prompt from turn {s.EffectiveTurn}: {s.Text}",
        PinEntry p => $"{(p.Pinned ? "pin" : "unpin")} #{p.Target}",
        SummaryEntry s => $"summary of #{s.FromSequence}–#{s.ThroughSequence}: {s.Text}",
        ResetEntry r => $"reset{(r.Reason is null ? "" : ": " + r.Reason)}",
        ForkEntry f => $"forked from {f.Parent} after #{f.AtSequence}",
        EditEntry { Retracted: true } e => $"withdraw #{e.Target} (undo or retry)",
        EditEntry e => $"edit #{e.Target}: {e.Replacement.Text}",
        UsageEntry u => $"{u.Record.Model}: in {u.Record.Usage.InputTokens} out {u.Record.Usage.OutputTokens} {Formats.Money(u.Record.CostUsd)}"
            + (u.Record.RequestId is null ? "" : $" ({u.Record.RequestId})"),
        _ => entry.Kind.ToString(),
    };
}
