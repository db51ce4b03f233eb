namespace ConversationLedger;

/// <summary>One billed call of a thread.</summary>
/// <param name="Entry">Its usage entry.</param>
/// <param name="Kind">What it was for.</param>
/// <param name="TurnNumber">The turn's number (1, 2 …, counting this thread's committed turns) for a turn, else null.</param>
/// <param name="Inherited">Whether a fork copied it from its parent.</param>
public sealed record UsageCall(UsageEntry Entry, UsageCallKind Kind, int? TurnNumber, bool Inherited)
{
    /// <summary>The call's usage record.</summary>
    public UsageRecord Record => Entry.Record;

    /// <summary>
    /// How full the call's model's context window was with this call's prompt (0–1), or null when
    /// <paramref name="models"/> does not know the model's window.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="models"/> is null.</exception>
    public double? ContextFill(ModelCatalog models)
    {
        ArgumentNullException.ThrowIfNull(models);
        return models.TryGet(Record.Model, out var info) && info.ContextWindow > 0
            ? (double)Record.Usage.TotalInputTokens / info.ContextWindow
            : null;
    }
}
