namespace ConversationLedger;

/// <summary>
/// A window policy whose dropped messages are folded into a running summary instead of being lost. Whenever
/// messages leave the window that the newest summary does not cover, the selection asks for a new summary
/// (the previous summary plus the newly dropped entries); the conversation loop has the model write it and
/// stores it as a ledger entry naming the range it covers. The covered entries stay in the ledger. With a
/// stepped window, summaries happen once per step and the prefix stays stable in between.
/// </summary>
public sealed class SummarizingPolicy : IHistoryPolicy
{
    private readonly SlidingWindowPolicy _window;

    /// <summary>Creates the policy over a window policy.</summary>
    public SummarizingPolicy(SlidingWindowPolicy window)
    {
        _window = window ?? throw new ArgumentNullException(nameof(window));
    }

    /// <inheritdoc />
    public WindowSpec Plan() => _window.Plan();

    /// <inheritdoc />
    public HistorySelection Select(ConversationView view)
    {
        ArgumentNullException.ThrowIfNull(view);
        var selection = _window.Select(view);
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
    public override string ToString() => $"summarize({_window})";
}
