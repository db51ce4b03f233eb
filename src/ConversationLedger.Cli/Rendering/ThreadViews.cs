using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using ConversationLedger.Storage;
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
            console.MarkupLine($"[bold]system[/] [dim]{Markup.Escape(Shorten(console, system, 200))}[/]");
        }
        if (view.Summary is { } summary)
        {
            console.MarkupLine($"[bold]summary[/] [dim]of #{summary.FromSequence}–#{summary.ThroughSequence}: {Markup.Escape(Shorten(console, summary.Text, 200))}[/]");
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
                Shorten(console, DescribeEntry(entry), 100));
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
        var table = new TextTable().Text("thread").Text("scope").Figure("entries").Figure("messages").Figure("tokens").Text("updated");
        foreach (var head in threads)
        {
            table.Row(
                new TextTable.Cell(head.Key.ThreadId + (head.Key.ThreadId == current ? " (here)" : ""), head.Key.ThreadId == current ? "bold" : null),
                new(head.Key.Scope),
                new(head.LastSequence.ToString(Invariant)),
                new(head.RunningMessages.ToString(Invariant)),
                new(head.RunningTokens.ToString("N0", Invariant)),
                new(head.UpdatedAt.ToLocalTime().ToString("yyyy-MM-dd HH:mm", Invariant)));
        }
        table.Write(console);
    }

    /// <summary>
    /// Per-call usage (turns and summaries): a table of tokens and cost and, on a terminal, bar charts of prompt tokens
    /// and of cost over time.
    /// </summary>
    public static async Task WriteUsageAsync(IAnsiConsole console, IConversationStore store, ThreadKey key, ModelCatalog models,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(models);
        WriteUsage(console, await UsageReport.ReadAsync(store, key, cancellationToken), models);
    }

    /// <summary>The usage of one thread, as <see cref="WriteUsageAsync"/> writes it.</summary>
    public static void WriteUsage(IAnsiConsole console, UsageReport report, ModelCatalog models)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(models);
        var calls = report.Calls;
        if (calls.Count == 0)
        {
            console.MarkupLine($"[dim]{Markup.Escape(report.Key.ToString())} has no turns yet[/]");
            return;
        }
        // One model is named once, under the table, so the figures fit 80 columns; several get a column.
        var modelNames = calls.Select(t => t.Record.Model).Distinct(StringComparer.Ordinal).ToArray();
        var table = new TextTable().Figure("turn");
        if (modelNames.Length > 1)
        {
            table.Text("model");
        }
        else
        {
            table.Caption = "model " + modelNames[0];
        }
        table.Figure("input").Figure("cache rd").Figure("cache wr").Figure("output").Figure("cost").Figure("context");
        TextTable.Cell[] Row(TextTable.Cell label, string model, params TextTable.Cell[] figures) =>
            modelNames.Length > 1 ? [label, new(model), .. figures] : [label, .. figures];
        TextTable.Cell[] Totals(UsageTotals totals, string? style) =>
        [
            new(totals.InputTokens.ToString("N0", Invariant)), new(totals.CacheReadInputTokens.ToString("N0", Invariant)),
            new(totals.CacheCreationInputTokens.ToString("N0", Invariant)), new(totals.OutputTokens.ToString("N0", Invariant)),
            new(Money(totals.CostUsd), style), new(""),
        ];
        foreach (var call in calls)
        {
            var record = call.Record;
            var window = models.TryGet(record.Model, out var info) ? info.ContextWindow : 0;
            table.Row(Row(
                new(call.Label),
                record.Model,
                new(record.Usage.InputTokens.ToString("N0", Invariant)),
                new(record.Usage.CacheReadInputTokens.ToString("N0", Invariant)),
                new(record.Usage.CacheCreationInputTokens.ToString("N0", Invariant)),
                new(record.Usage.OutputTokens.ToString("N0", Invariant)),
                new(Money(record.CostUsd)),
                new(window > 0 ? Percent((double)record.Usage.TotalInputTokens / window, 1) : "?")));
        }
        var inherited = report.Inherited.ToArray();
        if (inherited.Length > 0)
        {
            table.Row(Row(new("inherited", "dim"), "", Totals(UsageTotals.Of(inherited.Select(c => c.Record)), "dim")));
        }
        table.Row(Row(new(inherited.Length > 0 ? "this thread" : "all", "bold"), "", Totals(UsageTotals.Of(report.Own.Select(c => c.Record)), "bold")));
        table.Write(console);
        if (inherited.Length > 0)
        {
            console.MarkupLine($"[dim]inherited: copied from {Markup.Escape(report.ForkedAt!.Parent.ToString())} by the fork after its entry {report.ForkedAt.AtSequence}; paid for there, so not in this thread's total[/]");
        }
        if (calls.Any(t => t.Record.Uncommitted is not null))
        {
            console.MarkupLine("[dim]cancelled, interrupted, conflict, refused, summary failed: calls that were billed but are part of no stored turn (counted in the total)[/]");
        }
        if (!Output.IsTerminal(console))
        {
            // Bars are for eyes: piped, the table says it all.
            return;
        }

        // The guide: "Graph it over time" — prompt tokens grow with every turn that resends the history.
        const int MaxBars = 40;
        var first = Math.Max(0, calls.Count - MaxBars);
        var chart = new BarChart()
            .Label($"[bold]prompt tokens per turn[/]{(first > 0 ? $" [dim](last {MaxBars} of {calls.Count})[/]" : "")}")
            .Width(Math.Min(100, console.Profile.Width));
        for (var i = first; i < calls.Count; i++)
        {
            var usage = calls[i].Record.Usage;
            chart.AddItem(ChartLabel(calls[i].Label), usage.TotalInputTokens, usage.CacheReadInputTokens > 0 ? Color.Green : Color.Blue);
        }
        console.Write(chart);

        var costs = new BarChart()
            .Label("[bold]cost per turn (USD)[/]")
            .Width(Math.Min(100, console.Profile.Width))
            .UseValueFormatter((value, culture) => value.ToString("0.000000", culture));
        for (var i = first; i < calls.Count; i++)
        {
            costs.AddItem(ChartLabel(calls[i].Label), (double)calls[i].Record.CostUsd, Color.Yellow);
        }
        console.Write(costs);
    }

    /// <summary>
    /// Usage summed over several threads: a row per thread, or per day (<paramref name="byDay"/>, the local date each
    /// call was recorded), and the total. Only each thread's own calls count: what a fork copied from its parent was
    /// paid for there, so every call is counted once.
    /// </summary>
    public static void WriteUsageSummary(IAnsiConsole console, string scope, IReadOnlyList<UsageReport> reports, bool byDay)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(reports);
        var rows = UsageRows(reports, byDay);
        if (rows.Count == 0)
        {
            console.MarkupLine($"[dim]no billed calls in scope {Markup.Escape(scope)} yet[/]");
            return;
        }
        var table = new TextTable().Text(byDay ? "day" : "thread").Figure("calls").Figure("input").Figure("cache rd").Figure("cache wr").Figure("output").Figure("cost");
        TextTable.Cell[] Figures(UsageTotals totals, string? style) =>
        [
            new(totals.Calls.ToString("N0", Invariant), style), new(totals.InputTokens.ToString("N0", Invariant), style),
            new(totals.CacheReadInputTokens.ToString("N0", Invariant), style), new(totals.CacheCreationInputTokens.ToString("N0", Invariant), style),
            new(totals.OutputTokens.ToString("N0", Invariant), style), new(Money(totals.CostUsd), style),
        ];
        foreach (var (label, totals) in rows)
        {
            table.Row([new(label), .. Figures(totals, null)]);
        }
        table.Row([new(byDay ? "all days" : "all threads", "bold"), .. Figures(UsageTotals.Of(reports.SelectMany(r => r.Own).Select(c => c.Record)), "bold")]);
        table.Caption = $"scope {scope}; each call counted once";
        table.Write(console);
    }

    /// <summary>The rows of <see cref="WriteUsageSummary"/>: a label (thread id or yyyy-MM-dd) and the sums of its own calls.</summary>
    public static IReadOnlyList<(string Label, UsageTotals Totals)> UsageRows(IReadOnlyList<UsageReport> reports, bool byDay)
    {
        ArgumentNullException.ThrowIfNull(reports);
        return byDay
            ? reports.SelectMany(r => r.Own)
                .GroupBy(c => c.Entry.RecordedAt.ToLocalTime().ToString("yyyy-MM-dd", Invariant), StringComparer.Ordinal)
                .OrderBy(g => g.Key, StringComparer.Ordinal)
                .Select(g => (g.Key, UsageTotals.Of(g.Select(c => c.Record))))
                .ToList()
            : reports.Where(r => r.Own.Any()).Select(r => (r.Key.ThreadId, UsageTotals.Of(r.Own.Select(c => c.Record)))).ToList();
    }

    /// <summary>Every thread of a scope, newest activity first, page by page.</summary>
    public static async IAsyncEnumerable<ThreadHead> ListAllAsync(IConversationStore store, string tenant, string scope,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        string? cursor = null;
        do
        {
            var page = await store.ListThreadsAsync(tenant, scope, new PageRequest(Limit: PageRequest.MaxLimit, Cursor: cursor), cancellationToken);
            foreach (var head in page.Threads)
            {
                yield return head;
            }
            cursor = page.NextCursor;
        }
        while (cursor is not null);
    }

    private static string ChartLabel(string label) => char.IsAsciiDigit(label[0]) ? $"turn {label}" : label;

    /// <summary>
    /// The next request a turn would send (prepared by the conversation itself, policy and all): the tokens of each
    /// part, what was left out, the cache breakpoints, the share of the context window and the cost estimate, then
    /// its JSON body indented — or, <paramref name="raw"/>, only the body, byte for byte as it would be sent.
    /// </summary>
    public static async Task WriteInspectAsync(IAnsiConsole console, Conversation conversation, Ledger ledger, TurnOptions? turn, string nextMessage, bool raw,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(conversation);
        ArgumentNullException.ThrowIfNull(ledger);
        var prepared = await conversation.PreviewAsync(Message.User(nextMessage), turn, cancellationToken);
        if (raw)
        {
            Output.WriteRaw(console, prepared.ToJson() + "\n");
            return;
        }
        var request = prepared.Request;
        var parts = prepared.Parts;

        var table = new TextTable().Text("part").Figure("tokens (estimate)");
        if (parts.Tools > 0)
        {
            table.Row("tool definitions", N(parts.Tools));
        }
        table.Row("system prompt", N(parts.System));
        if (prepared.Selection.Summary is { } summary)
        {
            table.Row($"summary of #{summary.FromSequence}–#{summary.ThroughSequence}", N(parts.Summary));
        }
        else if (parts.Summary > 0)
        {
            table.Row("note: earlier messages left out (the window starts inside a tool loop)", N(parts.Summary));
        }
        foreach (var message in prepared.Selection.Pinned)
        {
            table.Row($"pinned #{message.Sequence} {message.Message.Role}: {Shorten(console, message.Message.Text, 50)}", N(message.Tokens));
        }
        foreach (var message in prepared.Selection.Window)
        {
            table.Row($"#{message.Sequence} {message.Message.Role}: {Shorten(console, message.Message.Text, 50)}", N(message.Tokens));
        }
        table.Row($"next user: {Shorten(console, nextMessage, 50)}", N(parts.NewMessage));
        table.Row(new TextTable.Cell("request (with framing)", "bold"), new TextTable.Cell(N(parts.Total), "bold"));
        table.Write(console, cancellationToken: cancellationToken);

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
        console.MarkupLine("[bold]request body[/] [dim](POST /v1/messages; --raw prints it alone, byte for byte)[/]");
        // Past the console's wrapping: the body must stay what would be sent.
        Output.WriteRaw(console, Indent(prepared.ToJson()) + "\n");
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

    // On a terminal a line is cut to fit; piped, nothing is cut (a pipe has no width), only kept on one line.
    private static string Shorten(IAnsiConsole console, string text, int max) =>
        Output.IsTerminal(console) ? Shorten(text, max) : text.ReplaceLineEndings(" ");

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
