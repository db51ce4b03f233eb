namespace ConversationLedger;

/// <summary>
/// Decides what of a thread's history goes into the next request. A policy first states what it needs
/// (<see cref="Plan"/>: a query the store answers with an indexed range read), then picks from what was read
/// (<see cref="Select"/>), usually with <see cref="ConversationView.Units"/> (where history may be cut) and
/// <see cref="HistorySelection.From"/>. <see cref="HistoryPlanner"/> runs the two for every policy alike: inside a tool
/// loop it shows the policy the conversation as it was when the loop's question was sent and keeps the loop after it (the
/// window holds through the loop), reads further back where that needs it, and adds a summarizing policy's summary.
/// Whatever is picked is turned into a valid request: tool exchanges stay whole and thinking blocks are dropped once
/// history was cut. Implementations are immutable and thread-safe.
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
    /// Entries a summarizing policy wants folded into a new summary before this request: the conversation loop asks the
    /// model for the summary, stores it, and selects again.
    /// </summary>
    public (long FromSequence, long ThroughSequence)? SummaryDue { get; init; }

    /// <summary>Whether anything of the history is not sent verbatim (so earlier thinking blocks must go).</summary>
    public bool IsCut => Omitted.Count > 0 || Summary is not null;

    /// <summary>Every message to send, oldest first.</summary>
    public IEnumerable<LedgerMessage> Messages => Pinned.Concat(Window);

    /// <summary>
    /// The window from the message at <paramref name="start"/> of <paramref name="view"/> (a place <see cref="HistoryUnits.CutAt"/>
    /// gave), the pinned units before it when <paramref name="pins"/>, the view's summary, and what that leaves out.
    /// </summary>
    public static HistorySelection From(ConversationView view, int start, bool pins)
    {
        ArgumentNullException.ThrowIfNull(view);
        var window = view.Messages.Skip(start).ToArray();
        IReadOnlyList<LedgerMessage> pinned = pins ? view.Units.PinnedBefore(start) : [];
        return new HistorySelection { Pinned = pinned, Summary = view.Summary, Window = window, Omitted = LeftOut(view, window, pinned) };
    }

    private static IReadOnlyList<Omission> LeftOut(ConversationView view, IReadOnlyList<LedgerMessage> window, IReadOnlyList<LedgerMessage> pinned)
    {
        var firstOrdinal = window.Count > 0 ? window[0].Ordinal : view.Head.RunningMessages + 1;
        var left = firstOrdinal - 1 - view.MessagesBeforeReset - pinned.Count;
        if (left <= 0)
        {
            return [];
        }
        var through = window.Count > 0 ? window[0].Sequence - 1 : view.Head.LastSequence;
        var reason = pinned.Count > 0 ? "older than the window and not pinned" : "older than the window";
        return [new Omission(view.Head.ResetSequence + 1, through, left, reason)];
    }
}
