namespace ConversationLedger;

/// <summary>
/// Decides what of a thread's history goes into the next request. A policy first states what it needs
/// (<see cref="Plan"/>: a query the store answers with an indexed range read), then picks from what was read
/// (<see cref="Select"/>). Whatever it picks is turned into a valid request: windows start at a clean user
/// message, tool exchanges stay whole and thinking blocks are dropped once history was cut.
/// Implementations are immutable and thread-safe.
/// </summary>
public interface IHistoryPolicy
{
    /// <summary>The entries to read for the next request.</summary>
    WindowSpec Plan();

    /// <summary>Picks the history to send before the new user message.</summary>
    HistorySelection Select(ConversationView view);
}

/// <summary>A run of messages left out of a request, and why.</summary>
/// <param name="FromSequence">The first entry left out.</param>
/// <param name="ThroughSequence">The last entry left out.</param>
/// <param name="Messages">How many messages.</param>
/// <param name="Reason">Why, in plain words.</param>
public sealed record Omission(long FromSequence, long ThroughSequence, long Messages, string Reason);

/// <summary>What a policy picked: pinned messages (sent first, verbatim), the newest summary, and the window of newest messages.</summary>
public sealed record HistorySelection
{
    /// <summary>Pinned messages outside the window, oldest first; each pinned exchange is whole.</summary>
    public IReadOnlyList<LedgerMessage> Pinned { get; init; } = [];

    /// <summary>The summary sent in place of older messages, or null.</summary>
    public SummaryEntry? Summary { get; init; }

    /// <summary>The newest messages, oldest first, starting at a clean user message.</summary>
    public required IReadOnlyList<LedgerMessage> Window { get; init; }

    /// <summary>What was left out and why.</summary>
    public IReadOnlyList<Omission> Omitted { get; init; } = [];

    /// <summary>
    /// Entries the policy wants folded into a new summary before this request (set by summarizing policies):
    /// the conversation loop asks the model for the summary, stores it, and selects again.
    /// </summary>
    public (long FromSequence, long ThroughSequence)? SummaryDue { get; init; }

    /// <summary>
    /// Set when the rows read stop short of where this selection should start (a tool loop keeps its window where its
    /// question found it, and the plan only covers the newest messages): read this too and select again. The selection
    /// is valid as it is; the second one keeps the prompt prefix of the loop unchanged.
    /// </summary>
    public WindowSpec? ReadMore { get; init; }

    /// <summary>Whether anything of the history is not sent verbatim (so earlier thinking blocks must go).</summary>
    public bool IsCut => Omitted.Count > 0 || Summary is not null;

    /// <summary>Every message to send, oldest first.</summary>
    public IEnumerable<LedgerMessage> Messages => Pinned.Concat(Window);
}
