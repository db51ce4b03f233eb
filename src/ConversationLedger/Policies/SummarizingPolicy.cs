namespace ConversationLedger;

/// <summary>
/// Any policy whose dropped messages are folded into a running summary instead of being lost. Whenever messages leave
/// the window that the newest summary does not cover, the selection asks for a new summary (the previous summary plus
/// the newly dropped entries); the conversation loop has the model write it and stores it as a ledger entry naming the
/// range it covers. The covered entries stay in the ledger. Over a stepped window, summaries happen once per step and the
/// prefix stays stable in between.
/// </summary>
public sealed class SummarizingPolicy : IHistoryPolicy
{
    /// <summary>Creates the policy over the policy that picks the window.</summary>
    public SummarizingPolicy(IHistoryPolicy window)
    {
        Window = window ?? throw new ArgumentNullException(nameof(window));
    }

    /// <summary>The policy that picks the window; what it leaves out is summarized.</summary>
    public IHistoryPolicy Window { get; }

    /// <inheritdoc />
    public WindowSpec Plan() => Window.Plan();

    /// <inheritdoc />
    public HistorySelection Select(ConversationView view) => WithSummaryDue(view, Window.Select(view));

    /// <summary>The selection with the summary it makes due: the entries it leaves out that the newest summary does not cover.</summary>
    internal static HistorySelection WithSummaryDue(ConversationView view, HistorySelection selection)
    {
        ArgumentNullException.ThrowIfNull(view);
        if (selection.Omitted.Count == 0 || selection.Window.Count == 0)
        {
            return selection;
        }
        var coveredThrough = view.Summary?.ThroughSequence ?? view.Head.ResetSequence;
        var dropFrom = coveredThrough + 1;
        var dropThrough = selection.Window[0].Sequence - 1;
        var omitted = selection.Omitted
            .Select(o => o with { Reason = view.Summary is null ? o.Reason : $"{o.Reason}; summarized through entry {coveredThrough}" })
            .ToArray();
        return selection with
        {
            Omitted = omitted,
            SummaryDue = dropThrough >= dropFrom ? (dropFrom, dropThrough) : null,
        };
    }

    /// <inheritdoc />
    public override string ToString() => $"summarize({Window})";
}
