namespace ConversationLedger.Storage;

/// <summary>
/// What a store checks against the stored heads before it writes, for store implementations: each store reads the heads
/// its own way (locked, in a transaction, in a script) and leaves the verdict and its message to these.
/// </summary>
public static class StoreConditions
{
    /// <summary>Refuses an append when the thread's newest sequence is no longer the one the writer expected.</summary>
    /// <exception cref="ConcurrencyConflictException">Another writer appended first.</exception>
    public static void ThrowIfMoved(ThreadHead head, long expectedSequence)
    {
        ArgumentNullException.ThrowIfNull(head);
        if (head.LastSequence != expectedSequence)
        {
            throw new ConcurrencyConflictException(head.Key, expectedSequence, head.LastSequence);
        }
    }

    /// <summary>Refuses a fork whose source thread does not exist or has no entry <paramref name="atSequence"/>.</summary>
    /// <exception cref="LedgerNotFoundException">The source thread or entry does not exist.</exception>
    public static void ThrowIfNoForkPoint(ThreadHead source, long atSequence)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (!source.Exists)
        {
            throw new LedgerNotFoundException($"thread {source.Key} does not exist");
        }
        if (atSequence < 1 || atSequence > source.LastSequence)
        {
            throw new LedgerNotFoundException($"thread {source.Key} has no entry {atSequence} (it has {source.LastSequence})");
        }
    }

    /// <summary>Refuses a fork onto a thread that already has entries.</summary>
    /// <exception cref="ConcurrencyConflictException">The target thread exists.</exception>
    public static void ThrowIfForkTargetExists(ThreadHead target)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (target.Exists)
        {
            throw new ConcurrencyConflictException(target.Key, 0, target.LastSequence);
        }
    }
}
