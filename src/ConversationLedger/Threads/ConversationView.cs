namespace ConversationLedger;

/// <summary>A message of the current conversation with its ledger position.</summary>
/// <param name="Sequence">The entry's sequence number.</param>
/// <param name="Message">The message, with the newest edit applied.</param>
/// <param name="Tokens">Estimated tokens of the original entry.</param>
/// <param name="Pinned">Whether the message is pinned.</param>
/// <param name="Edited">Whether an edit superseded the original.</param>
/// <param name="Ordinal">
/// The message's position among the thread's messages (1 = first); consecutive messages differ by one, except across
/// withdrawn messages (<see cref="ConversationView.RetractedOrdinals"/>), which keep their positions.
/// </param>
public sealed record LedgerMessage(long Sequence, Message Message, int Tokens, bool Pinned, bool Edited, long Ordinal);

/// <summary>
/// The current conversation derived from ledger entries: the newest system prompt, the messages since the
/// newest reset with edits applied, the pins and the newest summary. Nothing in the ledger is overwritten;
/// this is a projection of it.
/// </summary>
public sealed record ConversationView
{
    /// <summary>The thread's head when the entries were read.</summary>
    public required ThreadHead Head { get; init; }

    /// <summary>The current system prompt, or null.</summary>
    public string? SystemPrompt { get; init; }

    /// <summary>The messages read, in sequence order.</summary>
    public required IReadOnlyList<LedgerMessage> Messages { get; init; }

    /// <summary>The newest summary since the newest reset, or null.</summary>
    public SummaryEntry? Summary { get; init; }

    /// <summary>The newest system prompt entry (its text is <see cref="SystemPrompt"/>), or null when none was ever set.</summary>
    public SystemPromptEntry? SystemPromptSet { get; init; }

    /// <summary>The newest edit entry, or 0.</summary>
    public long EditedAt { get; init; }

    /// <summary>
    /// The newest entry that changed what is sent before messages written earlier (the newest system prompt, an edit), or 0.
    /// Thinking blocks of replies before it were signed over the prompt as it was: the API refuses them now.
    /// </summary>
    public long PromptChangedAt => Math.Max(SystemPromptSet?.Sequence ?? 0, EditedAt);

    /// <summary>How many messages the thread had at its newest reset (0 when never reset).</summary>
    public long MessagesBeforeReset { get; init; }

    /// <summary>The running token sum at the newest reset (0 when never reset).</summary>
    public long TokensBeforeReset { get; init; }

    /// <summary>How many messages the conversation has since the newest reset (read or not), withdrawn ones included.</summary>
    public long MessageCount => Head.RunningMessages - MessagesBeforeReset;

    /// <summary>
    /// The ordinals of the messages read that a retraction withdrew (an undone or retried turn): they are not in
    /// <see cref="Messages"/>, and the messages on either side of them are consecutive all the same.
    /// </summary>
    public IReadOnlySet<long> RetractedOrdinals { get; init; } = new HashSet<long>();

    /// <summary>Whether the messages at <paramref name="earlier"/> and <paramref name="later"/> follow each other, withdrawn messages between them aside.</summary>
    public bool Consecutive(long earlier, long later)
    {
        for (var ordinal = earlier + 1; ordinal < later; ordinal++)
        {
            if (!RetractedOrdinals.Contains(ordinal))
            {
                return false;
            }
        }
        return later > earlier;
    }

    /// <summary>This view with <paramref name="withdrawn"/> left out, as it will read once their retractions are stored.</summary>
    public ConversationView Without(IReadOnlyCollection<LedgerMessage> withdrawn)
    {
        ArgumentNullException.ThrowIfNull(withdrawn);
        var sequences = withdrawn.Select(m => m.Sequence).ToHashSet();
        return this with
        {
            Messages = Messages.Where(m => !sequences.Contains(m.Sequence)).ToArray(),
            RetractedOrdinals = RetractedOrdinals.Concat(withdrawn.Select(m => m.Ordinal)).ToHashSet(),
        };
    }

    private HistoryUnits? _units;

    /// <summary>
    /// The first message ordinal the policy's own plan read (set by <see cref="HistoryPlanner"/>; 0: all rows). Rows before it
    /// were read for pins or by a wider read, and a window never falls back to a question among them.
    /// </summary>
    internal long PlannedFrom { get; init; }

    /// <summary>The messages read, grouped into exchanges and tool loops: where history may be cut (built once per view).</summary>
    public HistoryUnits Units =>
        _units is { } units && ReferenceEquals(units.Messages, Messages) && units.Total == Head.RunningTokens && units.PlannedFrom == PlannedFrom ? units : _units = HistoryUnits.Of(this);

    /// <summary>The messages alone.</summary>
    public IReadOnlyList<Message> AsMessages() => Messages.Select(m => m.Message).ToArray();

    /// <summary>Projects the entries a store returned for a window.</summary>
    public static ConversationView Project(ThreadWindow window)
    {
        ArgumentNullException.ThrowIfNull(window);
        var boundary = window.Head.ResetSequence;
        SystemPromptEntry? system = null;
        SummaryEntry? summary = null;
        long messagesBeforeReset = 0;
        long tokensBeforeReset = 0;
        long editedAt = 0;
        var pinned = new HashSet<long>();
        var edits = new Dictionary<long, EditEntry>();
        var messages = new List<MessageEntry>();
        foreach (var entry in window.Entries)
        {
            switch (entry)
            {
                case SystemPromptEntry sp:
                    system = sp;
                    break;
                case ResetEntry r when r.Sequence == boundary:
                    messagesBeforeReset = r.RunningMessages;
                    tokensBeforeReset = r.RunningTokens;
                    break;
                case var _ when entry.Sequence <= boundary:
                    break;
                case MessageEntry m:
                    messages.Add(m);
                    break;
                case PinEntry { Pinned: true } p:
                    pinned.Add(p.Target);
                    break;
                case PinEntry p:
                    pinned.Remove(p.Target);
                    break;
                case EditEntry e:
                    edits[e.Target] = e;
                    // A withdrawn turn changes nothing before it: what was signed over earlier messages stays valid.
                    editedAt = e.Retracted ? editedAt : Math.Max(editedAt, e.Sequence);
                    break;
                case SummaryEntry s:
                    summary = s;
                    break;
            }
        }
        return new ConversationView
        {
            Head = window.Head,
            SystemPrompt = system is { Text.Length: > 0 } ? system.Text : null,
            SystemPromptSet = system,
            Summary = summary,
            MessagesBeforeReset = messagesBeforeReset,
            TokensBeforeReset = tokensBeforeReset,
            EditedAt = editedAt,
            RetractedOrdinals = messages.Where(m => edits.TryGetValue(m.Sequence, out var edit) && edit.Retracted).Select(m => m.RunningMessages).ToHashSet(),
            Messages = messages
                .Where(m => !(edits.TryGetValue(m.Sequence, out var edit) && edit.Retracted))
                .OrderBy(m => m.Sequence)
                .Select(m => edits.TryGetValue(m.Sequence, out var edit)
                    ? new LedgerMessage(m.Sequence, edit.Replacement, edit.ReplacementTokens ?? m.Tokens, pinned.Contains(m.Sequence), Edited: true, m.RunningMessages)
                    : new LedgerMessage(m.Sequence, m.Message, m.Tokens, pinned.Contains(m.Sequence), Edited: false, m.RunningMessages))
                .ToArray(),
        };
    }
}
