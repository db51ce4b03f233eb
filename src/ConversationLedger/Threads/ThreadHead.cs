namespace ConversationLedger;

/// <summary>What a store knows about a thread without reading its entries.</summary>
public sealed record ThreadHead
{
    /// <summary>The thread.</summary>
    public required ThreadKey Key { get; init; }

    /// <summary>The sequence number of the newest entry; 0 for a thread with no entries.</summary>
    public long LastSequence { get; init; }

    /// <summary>The running token sum after the newest entry.</summary>
    public long RunningTokens { get; init; }

    /// <summary>The number of message entries in the thread.</summary>
    public long RunningMessages { get; init; }

    /// <summary>The newest reset boundary's sequence number; 0 when the thread was never reset.</summary>
    public long ResetSequence { get; init; }

    /// <summary>When the first entry was stored.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>When the newest entry was stored.</summary>
    public DateTimeOffset UpdatedAt { get; init; }

    /// <summary>Whether the thread has any entries.</summary>
    public bool Exists => LastSequence > 0;

    /// <summary>The head of a thread that has no entries yet.</summary>
    public static ThreadHead Empty(ThreadKey key) => new() { Key = key };
}
