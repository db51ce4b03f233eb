namespace ConversationLedger;

/// <summary>
/// Sends the whole conversation since the newest reset: the guide's naive loop. Cost grows with every turn
/// and the request eventually stops fitting; kept for comparison and for short conversations.
/// </summary>
public sealed class KeepAllPolicy : IHistoryPolicy
{
    /// <summary>The shared instance.</summary>
    public static KeepAllPolicy Instance { get; } = new();

    /// <inheritdoc />
    public WindowSpec Plan() => WindowSpec.All;

    /// <inheritdoc />
    public HistorySelection Select(ConversationView view)
    {
        ArgumentNullException.ThrowIfNull(view);
        return new HistorySelection { Window = view.Messages };
    }

    /// <inheritdoc />
    public override string ToString() => "keep-all";
}
