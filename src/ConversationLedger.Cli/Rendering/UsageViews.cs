using System.Globalization;
using Spectre.Console;

namespace ConversationLedger.Cli.Rendering;

/// <summary>
/// How <c>ledger usage</c> and the chat's <c>/usage</c> show what calls cost: a table per call (and, on a terminal, bar
/// charts), or a summary over threads per thread or per day. The figures come from <see cref="ThreadUsage"/>.
/// </summary>
public static class UsageViews
{
    /// <summary>
    /// Per-call usage (turns and summaries): a table of tokens and cost and, on a terminal, bar charts of prompt tokens
    /// and of cost over time.
    /// </summary>
    public static void WriteUsage(IAnsiConsole console, ThreadUsage report, ModelCatalog models)
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
            new(Formats.Count(totals.InputTokens)), new(Formats.Count(totals.CacheReadInputTokens)),
            new(Formats.Count(totals.CacheCreationInputTokens)), new(Formats.Count(totals.OutputTokens)),
            new(Formats.Money(totals.CostUsd), style), new(""),
        ];
        foreach (var call in calls)
        {
            var record = call.Record;
            table.Row(Row(
                new(Label(call)),
                record.Model,
                new(Formats.Count(record.Usage.InputTokens)),
                new(Formats.Count(record.Usage.CacheReadInputTokens)),
                new(Formats.Count(record.Usage.CacheCreationInputTokens)),
                new(Formats.Count(record.Usage.OutputTokens)),
                new(Formats.Money(record.CostUsd)),
                new(call.ContextFill(models) is { } fill ? Formats.Percent(fill, 1) : "?")));
        }
        var inherited = report.Inherited.ToArray();
        if (inherited.Length > 0)
        {
            table.Row(Row(new("inherited", "dim"), "", Totals(report.InheritedTotals, "dim")));
        }
        table.Row(Row(new(inherited.Length > 0 ? "this thread" : "all", "bold"), "", Totals(report.OwnTotals, "bold")));
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
            chart.AddItem(ChartLabel(Label(calls[i])), usage.TotalInputTokens, usage.CacheReadInputTokens > 0 ? Color.Green : Color.Blue);
        }
        console.Write(chart);

        var costs = new BarChart()
            .Label("[bold]cost per turn (USD)[/]")
            .Width(Math.Min(100, console.Profile.Width))
            .UseValueFormatter((value, culture) => value.ToString("0.000000", culture));
        for (var i = first; i < calls.Count; i++)
        {
            costs.AddItem(ChartLabel(Label(calls[i])), (double)calls[i].Record.CostUsd, Color.Yellow);
        }
        console.Write(costs);
    }

    /// <summary>
    /// Usage summed over several threads: a row per thread, or per day (<paramref name="byDay"/>, the local date each
    /// call was recorded), and the total. Only each thread's own calls count: what a fork copied from its parent was
    /// paid for there, so every call is counted once.
    /// </summary>
    public static void WriteUsageSummary(IAnsiConsole console, string scope, IReadOnlyList<ThreadUsage> reports, bool byDay)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(reports);
        var rows = Groups(reports, byDay);
        if (rows.Count == 0)
        {
            console.MarkupLine($"[dim]no billed calls in scope {Markup.Escape(scope)} yet[/]");
            return;
        }
        var table = new TextTable().Text(byDay ? "day" : "thread").Figure("calls").Figure("input").Figure("cache rd").Figure("cache wr").Figure("output").Figure("cost");
        TextTable.Cell[] Figures(UsageTotals totals, string? style) =>
        [
            new(Formats.Count(totals.Calls), style), new(Formats.Count(totals.InputTokens), style),
            new(Formats.Count(totals.CacheReadInputTokens), style), new(Formats.Count(totals.CacheCreationInputTokens), style),
            new(Formats.Count(totals.OutputTokens), style), new(Formats.Money(totals.CostUsd), style),
        ];
        foreach (var (label, totals) in rows)
        {
            table.Row([new(label), .. Figures(totals, null)]);
        }
        table.Row([new(byDay ? "all days" : "all threads", "bold"), .. Figures(UsageTotals.Of(reports.SelectMany(r => r.Own).Select(c => c.Record)), "bold")]);
        table.Caption = $"scope {scope}; each call counted once";
        table.Write(console);
    }

    /// <summary>
    /// The rows of a summary over several threads: per thread, or per local day (<paramref name="byDay"/>); each thread's
    /// own calls only.
    /// </summary>
    public static IReadOnlyList<UsageGroup> Groups(IReadOnlyList<ThreadUsage> reports, bool byDay) =>
        byDay ? ThreadUsage.ByDay(reports, TimeZoneInfo.Local) : ThreadUsage.ByThread(reports);

    /// <summary>How a call's kind is named: <c>turn</c>, <c>summary</c> or <c>uncommitted</c>.</summary>
    public static string KindName(UsageCallKind kind) => kind switch
    {
        UsageCallKind.Turn => "turn",
        UsageCallKind.Summary => "summary",
        _ => "uncommitted",
    };

    /// <summary>How the table labels a call: the turn number, <c>summary</c>, or why it is uncommitted; marked when inherited.</summary>
    public static string Label(UsageCall call)
    {
        ArgumentNullException.ThrowIfNull(call);
        return (call.TurnNumber?.ToString(CultureInfo.InvariantCulture) ?? call.Record.Uncommitted ?? KindName(call.Kind)) + (call.Inherited ? " (inherited)" : "");
    }

    private static string ChartLabel(string label) => char.IsAsciiDigit(label[0]) ? $"turn {label}" : label;
}
