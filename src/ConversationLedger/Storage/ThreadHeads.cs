namespace ConversationLedger.Storage;

/// <summary>
/// Head arithmetic for store implementations: how an append numbers its entries and how a fork's head follows from the
/// prefix it copies. Every store calls these inside its own transaction, so every store numbers and sums entries alike.
/// </summary>
public static class ThreadHeads
{
    /// <summary>
    /// Numbers new entries after <paramref name="head"/> and computes their running sums; the one place where stores get
    /// sequence numbers. Returns the entries as stored and the new head.
    /// </summary>
    public static (IReadOnlyList<LedgerEntry> Entries, ThreadHead Head) Advance(this ThreadHead head, IReadOnlyList<LedgerEntry> entries, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(head);
        ArgumentNullException.ThrowIfNull(entries);
        var sequence = head.LastSequence;
        var tokens = head.RunningTokens;
        var messages = head.RunningMessages;
        var reset = head.ResetSequence;
        var stamped = new LedgerEntry[entries.Count];
        for (var i = 0; i < entries.Count; i++)
        {
            var entry = entries[i];
            sequence++;
            tokens += entry.Tokens;
            if (entry.Kind == EntryKind.Message)
            {
                messages++;
            }
            if (entry.Kind == EntryKind.Reset)
            {
                reset = sequence;
            }
            stamped[i] = entry with { Sequence = sequence, RecordedAt = now, RunningTokens = tokens, RunningMessages = messages };
        }
        var next = head with
        {
            LastSequence = sequence,
            RunningTokens = tokens,
            RunningMessages = messages,
            ResetSequence = reset,
            CreatedAt = head.Exists ? head.CreatedAt : now,
            UpdatedAt = now,
        };
        return (stamped, next);
    }

    /// <summary>
    /// The head of <paramref name="target"/> once it holds a copy of another thread's first entries,
    /// <paramref name="prefix"/> (at least one, copied with their sums).
    /// </summary>
    public static ThreadHead Copied(ThreadKey target, IReadOnlyList<LedgerEntry> prefix)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        var last = prefix[^1];
        var reset = prefix.LastOrDefault(e => e.Kind == EntryKind.Reset)?.Sequence ?? 0;
        return Copied(target, last.Sequence, last.RunningTokens, last.RunningMessages, reset);
    }

    /// <summary>The head of <paramref name="target"/> once it holds a copy of a prefix whose last entry has these sums.</summary>
    public static ThreadHead Copied(ThreadKey target, long lastSequence, long runningTokens, long runningMessages, long resetSequence) =>
        ThreadHead.Empty(target) with
        {
            LastSequence = lastSequence,
            RunningTokens = runningTokens,
            RunningMessages = runningMessages,
            ResetSequence = resetSequence,
        };

    /// <summary>
    /// Ends a fork: the <see cref="ForkEntry"/> naming the source, appended after the <paramref name="copied"/> prefix. The
    /// fork's head counts as created now (the copied entries keep the times they were first recorded at).
    /// </summary>
    /// <returns>The fork entry as stored (one entry) and the target's head.</returns>
    public static (IReadOnlyList<LedgerEntry> Entries, ThreadHead Head) Fork(this ThreadHead copied, ThreadKey source, long atSequence, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(copied);
        var (stamped, head) = copied.Advance([new ForkEntry(source, atSequence)], now);
        return (stamped, head with { CreatedAt = head.UpdatedAt });
    }
}
