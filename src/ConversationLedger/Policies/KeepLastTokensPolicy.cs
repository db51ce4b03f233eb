namespace ConversationLedger;

/// <summary>
/// The newest whole turns that fit in a token budget, nothing pinned, nothing summarized: the simplest token budget.
/// Inside a tool loop the budget is counted as it stood at the loop's question (the planner keeps the window there).
/// </summary>
/// <param name="tokens">The most stored tokens of history kept.</param>
public sealed class KeepLastTokensPolicy(long tokens) : IHistoryPolicy
{
    /// <summary>The budget.</summary>
    public long Tokens { get; } = tokens > 0 ? tokens : throw new ArgumentOutOfRangeException(nameof(tokens), tokens, "a token budget must be positive");

    /// <inheritdoc />
    public WindowSpec Plan() => new() { LastTokens = Tokens };

    /// <inheritdoc />
    public HistorySelection Select(ConversationView view) =>
        HistorySelection.From(view, view.Units.CutAt(view.Units.FirstAfterTokens(view.Head.RunningTokens - Tokens)), pins: false);

    /// <inheritdoc />
    public override string ToString() => $"keep-last-tokens({Tokens})";
}
