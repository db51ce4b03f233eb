namespace ConversationLedger;

/// <summary>The kinds of ledger entries; stored as their lower-case names.</summary>
public enum EntryKind
{
    /// <summary>A user or assistant message.</summary>
    Message,
    /// <summary>The system prompt was set or changed.</summary>
    SystemPrompt,
    /// <summary>A message was pinned or unpinned.</summary>
    Pin,
    /// <summary>A summary covering a range of entries.</summary>
    Summary,
    /// <summary>An archive boundary: the conversation starts afresh after it.</summary>
    Reset,
    /// <summary>The thread was forked from another thread at an entry.</summary>
    Fork,
    /// <summary>A message superseded by a new version.</summary>
    Edit,
    /// <summary>The usage and cost of one model call.</summary>
    Usage,
}

/// <summary>
/// One entry of a thread's append-only ledger. The store assigns <see cref="Sequence"/> (1, 2, 3 … per thread),
/// <see cref="RecordedAt"/> and the running sums when it appends; entries are never changed afterwards.
/// </summary>
public abstract record LedgerEntry
{
    /// <summary>The entry's position in its thread, from 1; 0 before it is stored.</summary>
    public long Sequence { get; init; }

    /// <summary>When the entry was stored.</summary>
    public DateTimeOffset RecordedAt { get; init; }

    /// <summary>The turn the entry belongs to (entries committed together share it).</summary>
    public string? TurnId { get; init; }

    /// <summary>Estimated tokens of the message this entry adds to a request (0 for events).</summary>
    public int Tokens { get; init; }

    /// <summary>The sum of <see cref="Tokens"/> over the thread up to and including this entry.</summary>
    public long RunningTokens { get; init; }

    /// <summary>The number of message entries in the thread up to and including this entry.</summary>
    public long RunningMessages { get; init; }

    /// <summary>The kind of entry.</summary>
    public abstract EntryKind Kind { get; }
}

/// <summary>A message, kept verbatim.</summary>
public sealed record MessageEntry(Message Message) : LedgerEntry
{
    /// <inheritdoc />
    public override EntryKind Kind => EntryKind.Message;
}

/// <summary>The system prompt was set or changed; it applies from <paramref name="EffectiveTurn"/> on.</summary>
/// <param name="Text">The new system prompt (empty clears it).</param>
/// <param name="EffectiveTurn">The 1-based number of the first turn sent with this prompt.</param>
public sealed record SystemPromptEntry(string Text, long EffectiveTurn) : LedgerEntry
{
    /// <summary>
    /// The prompt this one replaced ("" when there was none), or null when not recorded (entries written before it was).
    /// Models that take mid-conversation system messages keep the earlier prompt on top and get this one as a system
    /// message at the turn it took effect, so the cached prefix before it stays valid.
    /// </summary>
    public string? Previous { get; init; }

    /// <inheritdoc />
    public override EntryKind Kind => EntryKind.SystemPrompt;
}

/// <summary>The message entry <paramref name="Target"/> was pinned (or unpinned).</summary>
public sealed record PinEntry(long Target, bool Pinned) : LedgerEntry
{
    /// <inheritdoc />
    public override EntryKind Kind => EntryKind.Pin;
}

/// <summary>A summary of the entries from <paramref name="FromSequence"/> through <paramref name="ThroughSequence"/>, which stay in the ledger.</summary>
/// <param name="Text">The summary text.</param>
/// <param name="FromSequence">The first entry covered.</param>
/// <param name="ThroughSequence">The last entry covered.</param>
/// <param name="Model">The model that wrote it.</param>
/// <param name="InputTokens">Tokens summarized.</param>
/// <param name="OutputTokens">Tokens of the summary.</param>
public sealed record SummaryEntry(string Text, long FromSequence, long ThroughSequence, string Model, long InputTokens, long OutputTokens) : LedgerEntry
{
    /// <inheritdoc />
    public override EntryKind Kind => EntryKind.Summary;
}

/// <summary>An archive boundary: the conversation sent to the model starts after it; the entries before stay readable.</summary>
public sealed record ResetEntry(string? Reason) : LedgerEntry
{
    /// <inheritdoc />
    public override EntryKind Kind => EntryKind.Reset;
}

/// <summary>This thread was forked from <paramref name="Parent"/> after its entry <paramref name="AtSequence"/>.</summary>
public sealed record ForkEntry(ThreadKey Parent, long AtSequence) : LedgerEntry
{
    /// <inheritdoc />
    public override EntryKind Kind => EntryKind.Fork;
}

/// <summary>The message entry <paramref name="Target"/> is superseded by <paramref name="Replacement"/>; the original stays in the ledger.</summary>
public sealed record EditEntry(long Target, Message Replacement) : LedgerEntry
{
    /// <summary>Estimated tokens of the replacement (null in entries written before it was recorded: the original's count is used).</summary>
    public int? ReplacementTokens { get; init; }

    /// <summary>
    /// Whether the edit withdraws the message from the conversation (an undone or retried turn: every message of the
    /// turn gets one, so alternation holds) rather than replacing it. <see cref="Replacement"/> then repeats the
    /// original, so a reader that predates retractions still sees a valid conversation. The message stays in the ledger.
    /// </summary>
    public bool Retracted { get; init; }

    /// <inheritdoc />
    public override EntryKind Kind => EntryKind.Edit;
}

/// <summary>The usage and cost of one model call.</summary>
public sealed record UsageEntry(UsageRecord Record) : LedgerEntry
{
    /// <inheritdoc />
    public override EntryKind Kind => EntryKind.Usage;
}
