using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Spectre.Console;

namespace ConversationLedger.Cli.Rendering;

/// <summary>
/// How threads, messages, turns, usage and request previews look. Shared by the one-shot commands and the chat's
/// slash commands, so <c>ledger usage</c> and <c>/usage</c> print the same thing.
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

    /// <summary>The current conversation: system prompt, summary, messages since the newest reset.</summary>
    public static void WriteConversation(IAnsiConsole console, ConversationView view)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(view);
        var head = view.Head;
        console.MarkupLine($"[bold]{Markup.Escape(head.Key.ToString())}[/] [dim]{head.LastSequence} entries · {view.Messages.Count} messages now"
            + (head.ResetSequence > 0 ? $" · reset at #{head.ResetSequence} (earlier entries archived: --all)" : "") + "[/]");
        if (view.SystemPrompt is { } system)
        {
            console.MarkupLine($"[bold]system[/] [dim]{Markup.Escape(Shorten(system, 200))}[/]");
        }
        if (view.Summary is { } summary)
        {
            console.MarkupLine($"[bold]summary[/] [dim]of #{summary.FromSequence}–#{summary.ThroughSequence}: {Markup.Escape(Shorten(summary.Text, 200))}[/]");
        }
        foreach (var message in view.Messages)
        {
            WriteMessage(console, message);
        }
    }

    /// <summary>Every entry of the ledger, events included: what happened, in order.</summary>
    public static void WriteEntries(IAnsiConsole console, IEnumerable<LedgerEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(entries);
        var table = new Table().Border(TableBorder.Simple).AddColumns("#", "kind", "when", "what");
        foreach (var entry in entries)
        {
            table.AddRow(
                entry.Sequence.ToString(Invariant),
                EntryCodecName(entry),
                entry.RecordedAt.ToString("yyyy-MM-dd HH:mm:ss", Invariant),
                Markup.Escape(Shorten(DescribeEntry(entry), 100)));
        }
        console.Write(table);
    }

    /// <summary>
    /// The dim line after each turn: tokens, cost and how full the context window was; a warning when the reported
    /// fill reached <paramref name="warnAt"/> and the estimate before the call had not already warned.
    /// </summary>
    public static void WriteTurnFooter(IAnsiConsole console, TurnResult turn, double warnAt)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(turn);
        var usage = turn.Usage.Record.Usage;
        var fill = turn.ContextWindow > 0
            ? $"context {Percent(turn.ContextFill, 1)} of {turn.ContextWindow.ToString("N0", Invariant)}"
            : "context window unknown";
        console.MarkupLine($"[dim]in {usage.InputTokens.ToString("N0", Invariant)} · out {usage.OutputTokens.ToString("N0", Invariant)}"
            + $" · cache read {usage.CacheReadInputTokens.ToString("N0", Invariant)} write {usage.CacheCreationInputTokens.ToString("N0", Invariant)}"
            + $" · {Money(turn.Usage.Record.CostUsd)} · {turn.MessagesSent} message{(turn.MessagesSent == 1 ? "" : "s")} sent · {fill}[/]");
        if (turn.StopReason is "max_tokens")
        {
            console.MarkupLine($"[yellow]the reply was cut at max_tokens ({turn.Request.Request.MaxTokens.ToString("N0", Invariant)}); /max-tokens N raises it[/]");
        }
        else if (turn.StopReason is "refusal" or "model_context_window_exceeded" or "pause_turn")
        {
            console.MarkupLine($"[yellow]the reply stopped: {turn.StopReason}[/]");
        }
        if (!turn.ContextWarning && turn.ContextFill >= warnAt)
        {
            console.MarkupLine($"[bold yellow]warning: the context window is {Percent(turn.ContextFill, 0)} full; /reset starts afresh (the archive stays readable)[/]");
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
        var table = new Table().Border(TableBorder.Simple).AddColumns("thread", "scope", "entries", "messages", "tokens", "updated");
        foreach (var head in threads)
        {
            var id = Markup.Escape(head.Key.ThreadId);
            table.AddRow(
                head.Key.ThreadId == current ? $"[bold]{id}[/] [dim](here)[/]" : id,
                Markup.Escape(head.Key.Scope),
                head.LastSequence.ToString(Invariant),
                head.RunningMessages.ToString(Invariant),
                head.RunningTokens.ToString("N0", Invariant),
                head.UpdatedAt.ToLocalTime().ToString("yyyy-MM-dd HH:mm", Invariant));
        }
        console.Write(table);
    }

    /// <summary>Per-call usage (turns and summaries): a table of tokens and cost, and bar charts of prompt tokens and of cost over time.</summary>
    public static async Task WriteUsageAsync(IAnsiConsole console, IConversationStore store, ThreadKey key, ModelCatalog models,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(models);
        // Every model call, labelled: the turns numbered, the calls that wrote a summary (same commit as the summary) named,
        // billed calls that are part of no committed turn by why (cancelled, conflict …). What a fork copied from its parent
        // (the entries before the newest fork entry) is inherited: shown, but not counted in this thread's total.
        var all = new List<LedgerEntry>();
        await foreach (var entry in ReadAllAsync(store, key, cancellationToken))
        {
            all.Add(entry);
        }
        var forkedAt = all.OfType<ForkEntry>().LastOrDefault();
        var turns = new List<UsageEntry>();
        var labels = new List<string>();
        var inherited = new List<bool>();
        var summaryCommits = new HashSet<string>(StringComparer.Ordinal);
        var turnNumber = 0;
        foreach (var entry in all)
        {
            if (entry is SummaryEntry { TurnId: { } summaryCommit })
            {
                summaryCommits.Add(summaryCommit);
            }
            else if (entry is UsageEntry usage)
            {
                turns.Add(usage);
                var copied = forkedAt is not null && usage.Sequence < forkedAt.Sequence;
                inherited.Add(copied);
                var label = usage.Record.Uncommitted is { } why ? why
                    : usage.TurnId is { } commit && summaryCommits.Contains(commit) ? "summary"
                    : (++turnNumber).ToString(Invariant);
                labels.Add(copied ? label + " (inherited)" : label);
            }
        }
        if (turns.Count == 0)
        {
            console.MarkupLine($"[dim]{Markup.Escape(key.ToString())} has no turns yet[/]");
            return;
        }
        // Figures never wrap. One model is named once, under the table, so the figures fit 80 columns; several get a column.
        static TableColumn Figure(string header) => new TableColumn(header).NoWrap().RightAligned();
        var modelNames = turns.Select(t => t.Record.Model).Distinct(StringComparer.Ordinal).ToArray();
        var table = new Table().Border(TableBorder.Simple).AddColumn(Figure("turn"));
        if (modelNames.Length > 1)
        {
            table.AddColumn(new TableColumn("model"));
        }
        else
        {
            table.Caption($"[dim]model {Markup.Escape(modelNames[0])}[/]");
        }
        table.AddColumns(Figure("input"), Figure("cache rd"), Figure("cache wr"), Figure("output"), Figure("cost"), Figure("context"));
        IEnumerable<string> Row(string label, string model, params string[] figures) =>
            modelNames.Length > 1 ? [label, model, .. figures] : [label, .. figures];
        for (var i = 0; i < turns.Count; i++)
        {
            var record = turns[i].Record;
            var window = models.TryGet(record.Model, out var info) ? info.ContextWindow : 0;
            table.AddRow(Row(
                labels[i],
                Markup.Escape(record.Model),
                record.Usage.InputTokens.ToString("N0", Invariant),
                record.Usage.CacheReadInputTokens.ToString("N0", Invariant),
                record.Usage.CacheCreationInputTokens.ToString("N0", Invariant),
                record.Usage.OutputTokens.ToString("N0", Invariant),
                Money(record.CostUsd),
                window > 0 ? Percent((double)record.Usage.TotalInputTokens / window, 1) : "?").ToArray());
        }
        var own = turns.Where((_, i) => !inherited[i]).Select(t => t.Record).ToArray();
        var copiedRecords = turns.Where((_, i) => inherited[i]).Select(t => t.Record).ToArray();
        if (copiedRecords.Length > 0)
        {
            table.AddRow(Row(
                "[dim]inherited[/]", "",
                copiedRecords.Sum(r => r.Usage.InputTokens).ToString("N0", Invariant),
                copiedRecords.Sum(r => r.Usage.CacheReadInputTokens).ToString("N0", Invariant),
                copiedRecords.Sum(r => r.Usage.CacheCreationInputTokens).ToString("N0", Invariant),
                copiedRecords.Sum(r => r.Usage.OutputTokens).ToString("N0", Invariant),
                $"[dim]{Money(copiedRecords.Sum(r => r.CostUsd))}[/]", "").ToArray());
        }
        var total = own;
        table.AddRow(Row(
            copiedRecords.Length > 0 ? "[bold]this thread[/]" : "[bold]all[/]", "",
            total.Sum(r => r.Usage.InputTokens).ToString("N0", Invariant),
            total.Sum(r => r.Usage.CacheReadInputTokens).ToString("N0", Invariant),
            total.Sum(r => r.Usage.CacheCreationInputTokens).ToString("N0", Invariant),
            total.Sum(r => r.Usage.OutputTokens).ToString("N0", Invariant),
            $"[bold]{Money(total.Sum(r => r.CostUsd))}[/]", "").ToArray());
        console.Write(table);
        if (copiedRecords.Length > 0)
        {
            console.MarkupLine($"[dim]inherited: copied from {Markup.Escape(forkedAt!.Parent.ToString())} by the fork after its entry {forkedAt.AtSequence}; paid for there, so not in this thread's total[/]");
        }
        if (turns.Any(t => t.Record.Uncommitted is not null))
        {
            console.MarkupLine("[dim]cancelled, interrupted, conflict, refused, summary failed: calls that were billed but are part of no stored turn (counted in the total)[/]");
        }

        // The guide: "Graph it over time" — prompt tokens grow with every turn that resends the history.
        const int MaxBars = 40;
        var first = Math.Max(0, turns.Count - MaxBars);
        var chart = new BarChart()
            .Label($"[bold]prompt tokens per turn[/]{(first > 0 ? $" [dim](last {MaxBars} of {turns.Count})[/]" : "")}")
            .Width(Math.Min(100, console.Profile.Width));
        for (var i = first; i < turns.Count; i++)
        {
            var usage = turns[i].Record.Usage;
            chart.AddItem(ChartLabel(labels[i]), usage.TotalInputTokens, usage.CacheReadInputTokens > 0 ? Color.Green : Color.Blue);
        }
        console.Write(chart);

        var costs = new BarChart()
            .Label("[bold]cost per turn (USD)[/]")
            .Width(Math.Min(100, console.Profile.Width))
            .UseValueFormatter((value, culture) => value.ToString("0.000000", culture));
        for (var i = first; i < turns.Count; i++)
        {
            costs.AddItem(ChartLabel(labels[i]), (double)turns[i].Record.CostUsd, Color.Yellow);
        }
        console.Write(costs);
    }

    private static string ChartLabel(string label) => char.IsAsciiDigit(label[0]) ? $"turn {label}" : label;

    /// <summary>
    /// The next request a turn would send (prepared by the conversation itself, policy and all): the tokens of each
    /// part, what was left out, the cache breakpoints, the share of the context window and the cost estimate, then
    /// its JSON body.
    /// </summary>
    public static async Task WriteInspectAsync(IAnsiConsole console, Conversation conversation, Ledger ledger, TurnOptions? turn, string nextMessage, bool raw,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(conversation);
        ArgumentNullException.ThrowIfNull(ledger);
        var prepared = await conversation.PreviewAsync(Message.User(nextMessage), turn, cancellationToken);
        var request = prepared.Request;
        var parts = prepared.Parts;

        var table = new Table().Border(TableBorder.Simple).AddColumns("part", "tokens (estimate)");
        if (parts.Tools > 0)
        {
            table.AddRow("tool definitions", N(parts.Tools));
        }
        table.AddRow("system prompt", N(parts.System));
        if (prepared.Selection.Summary is { } summary)
        {
            table.AddRow($"summary of #{summary.FromSequence}–#{summary.ThroughSequence}", N(parts.Summary));
        }
        else if (parts.Summary > 0)
        {
            table.AddRow("note: earlier messages left out (the window starts inside a tool loop)", N(parts.Summary));
        }
        foreach (var message in prepared.Selection.Pinned)
        {
            table.AddRow($"pinned #{message.Sequence} {message.Message.Role}: {Markup.Escape(Shorten(message.Message.Text, 50))}", N(message.Tokens));
        }
        foreach (var message in prepared.Selection.Window)
        {
            table.AddRow($"#{message.Sequence} {message.Message.Role}: {Markup.Escape(Shorten(message.Message.Text, 50))}", N(message.Tokens));
        }
        table.AddRow($"next user: {Markup.Escape(Shorten(nextMessage, 50))}", N(parts.NewMessage));
        table.AddRow("[bold]request[/] [dim](with framing)[/]", $"[bold]{N(parts.Total)}[/]");
        console.Write(table);

        foreach (var omission in prepared.Selection.Omitted)
        {
            console.MarkupLine($"[dim]left out #{omission.FromSequence}–#{omission.ThroughSequence} ({omission.Messages} messages): {Markup.Escape(omission.Reason)}[/]");
        }
        foreach (var breakpoint in prepared.Breakpoints)
        {
            console.MarkupLine($"[dim]cache breakpoint: {Markup.Escape(breakpoint)}[/]");
        }
        var outputCost = ledger.Models.Cost(request.Model, new TokenUsage { OutputTokens = request.MaxTokens });
        console.MarkupLine($"model {Markup.Escape(request.Model)} · policy {Markup.Escape((turn?.Policy ?? ledger.Policy).ToString() ?? "")} · {request.Messages.Count} messages"
            + $" · about {N(prepared.EstimatedInputTokens)} prompt tokens = {Percent(prepared.Fill, 2)} of the {N(prepared.ContextWindow)}-token window"
            + $" (budget {N(prepared.Budget)})");
        console.MarkupLine($"cost estimate: input at most {Money(prepared.UncachedInputCostUsd)} (cache reads make it less), output up to {Money(outputCost)} (max_tokens {request.MaxTokens.ToString(Invariant)})");
        if (prepared.Fill >= ledger.Options.WarnAtFill)
        {
            console.MarkupLine($"[bold yellow]warning: the context window would be {Percent(prepared.Fill, 0)} full[/]");
        }
        console.MarkupLine("[bold]request body[/] [dim](POST /v1/messages)[/]");
        var json = prepared.ToJson();
        // Past the console's wrapping: the body must stay byte for byte what would be sent.
        var writer = console.Profile.Out.Writer;
        await writer.WriteLineAsync(raw ? json : Indent(json));
        await writer.FlushAsync(cancellationToken);
    }

    /// <summary>Every entry of a thread, archive included, page by page.</summary>
    public static async IAsyncEnumerable<LedgerEntry> ReadAllAsync(IConversationStore store, ThreadKey key,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        const int Page = 500;
        var after = 0L;
        while (true)
        {
            var page = await store.ReadEntriesAsync(key, after, Page, cancellationToken);
            foreach (var entry in page)
            {
                yield return entry;
            }
            if (page.Count < Page)
            {
                yield break;
            }
            after = page[^1].Sequence;
        }
    }

    /// <summary>A share as a percentage, "12.5%".</summary>
    public static string Percent(double share, int decimals) =>
        (share * 100).ToString("F" + decimals.ToString(Invariant), Invariant) + "%";

    private static string N(long value) => value.ToString("N0", Invariant);

    /// <summary>US dollars with enough digits for a single cheap call.</summary>
    public static string Money(decimal usd) => "$" + usd.ToString(usd < 0.01m ? "0.000000" : "0.0000", Invariant);

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
        UsageEntry u => $"{u.Record.Model}: in {u.Record.Usage.InputTokens} out {u.Record.Usage.OutputTokens} {Money(u.Record.CostUsd)}"
            + (u.Record.RequestId is null ? "" : $" ({u.Record.RequestId})"),
        _ => entry.Kind.ToString(),
    };

    private static string Shorten(string text, int max)
    {
        var line = text.ReplaceLineEndings(" ");
        return line.Length <= max ? line : string.Concat(line.AsSpan(0, max), "…");
    }

    private static string Indent(string json)
    {
        using var document = JsonDocument.Parse(json);
        return JsonSerializer.Serialize(document.RootElement, IndentedJson);
    }

    private static readonly JsonSerializerOptions IndentedJson = new()
    {
        WriteIndented = true,
        // Keep non-ASCII text readable; this is for eyes, the exact bytes are --raw.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };
}
