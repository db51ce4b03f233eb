namespace ConversationLedger;

/// <summary>
/// One unit history is cut around: an exchange (a question and its reply) or a tool loop (a question, steps of tool calls
/// and results, and the final reply), as it lies among the messages read. A unit is never split, so a tool_use never
/// leaves its tool_result behind and alternation holds on both sides of a cut.
/// </summary>
/// <param name="Start">The index of its first message in the list it was found in.</param>
/// <param name="End">The index after its last message.</param>
/// <param name="Whole">Whether it starts at its question (a user message that answers no tool call); false for the tail of a tool loop whose question was not read.</param>
/// <param name="Open">Whether its newest reply calls a tool, so the next message answers it: a tool loop still running.</param>
/// <param name="Tokens">Its messages' stored tokens.</param>
public sealed record HistoryUnit(int Start, int End, bool Whole, bool Open, long Tokens)
{
    /// <summary>How many messages it holds.</summary>
    public int Count => End - Start;
}

/// <summary>
/// The messages read, grouped into <see cref="HistoryUnit"/>s once: the one place that knows where history may be cut.
/// Units end at the next question, and where the rows read skip messages that were not read (pinned turns read from
/// further back come before the newest run). Policies place their windows with <see cref="CutAt"/>; the request builder
/// fits budgets with <see cref="NextCut"/>.
/// </summary>
public sealed class HistoryUnits
{
    private readonly HistoryUnit[] _units;
    private long[]? _tokensBefore;

    private HistoryUnits(IReadOnlyList<LedgerMessage> messages, HistoryUnit[] units, int tail, long total, long plannedFrom)
    {
        Messages = messages;
        _units = units;
        Tail = tail;
        Total = total;
        PlannedFrom = plannedFrom;
        _floor = tail;
        while (_floor < messages.Count && messages[_floor].Ordinal < plannedFrom)
        {
            _floor++;
        }
    }

    // The first message of the newest run the policy's plan read: a window falls back to no question before it.
    private readonly int _floor;

    internal long PlannedFrom { get; }

    /// <summary>The messages grouped.</summary>
    public IReadOnlyList<LedgerMessage> Messages { get; }

    /// <summary>The units, oldest first.</summary>
    public IReadOnlyList<HistoryUnit> Units => _units;

    /// <summary>The index where the newest run of consecutive messages begins (messages before it are pinned turns read from further back).</summary>
    public int Tail { get; }

    /// <summary>The thread's running token total after the newest message (what <see cref="TokensBefore"/> counts back from).</summary>
    public long Total { get; }

    /// <summary>The tool loop still running (its newest reply calls a tool), or null.</summary>
    public HistoryUnit? Open => _units is [.., { Open: true } last] && last.Start >= Tail ? last : null;

    /// <summary>The newest unit when it is a whole one in the newest run (the newest turn), or null.</summary>
    public HistoryUnit? Newest => _units is [.., { Whole: true } last] && last.Start >= Tail ? last : null;

    /// <summary>Whether a message can start a request's history: a user message that answers no tool call.</summary>
    public static bool IsTurnStart(Message message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return message.Role == Role.User && message.Content.All(b => b.ToolResultFor is null);
    }

    /// <summary>The units of a view's messages (with the thread's totals from its head).</summary>
    public static HistoryUnits Of(ConversationView view)
    {
        ArgumentNullException.ThrowIfNull(view);
        return Of(view.Messages, view.Consecutive, view.Head.RunningTokens, view.PlannedFrom);
    }

    /// <summary>The units of consecutive messages (a window).</summary>
    public static HistoryUnits Of(IReadOnlyList<LedgerMessage> messages) =>
        Of(messages, static (earlier, later) => later > earlier, Tokens(messages), 0);

    private static HistoryUnits Of(IReadOnlyList<LedgerMessage> messages, Func<long, long, bool> consecutive, long total, long plannedFrom)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var units = new List<HistoryUnit>();
        var tail = 0;
        var start = 0;
        long tokens = 0;
        for (var i = 0; i <= messages.Count; i++)
        {
            var gap = i > 0 && i < messages.Count && !consecutive(messages[i - 1].Ordinal, messages[i].Ordinal);
            if (i > start && (i == messages.Count || gap || IsTurnStart(messages[i].Message)))
            {
                units.Add(new HistoryUnit(start, i, IsTurnStart(messages[start].Message), messages[i - 1].Message.CallsTools, tokens));
                start = i;
                tokens = 0;
            }
            if (gap)
            {
                tail = i;
            }
            if (i < messages.Count)
            {
                tokens += messages[i].Tokens;
            }
        }
        return new HistoryUnits(messages, [.. units], tail, total, plannedFrom);
    }

    /// <summary>The unit holding the message at <paramref name="index"/>.</summary>
    public HistoryUnit At(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Messages.Count);
        return _units.First(u => u.End > index);
    }

    /// <summary>The thread's tokens before the message at <paramref name="index"/> (meaningful in the newest run).</summary>
    public long TokensBefore(int index)
    {
        if (_tokensBefore is null)
        {
            var before = new long[Messages.Count + 1];
            before[Messages.Count] = Total;
            for (var i = Messages.Count - 1; i >= 0; i--)
            {
                before[i] = before[i + 1] - Messages[i].Tokens;
            }
            _tokensBefore = before;
        }
        return _tokensBefore[index];
    }

    /// <summary>The first message of the newest run at or after message ordinal <paramref name="ordinal"/> (the count when none is).</summary>
    public int FirstFromOrdinal(long ordinal) => First(i => Messages[i].Ordinal >= ordinal);

    /// <summary>The first message of the newest run with at least <paramref name="tokens"/> of the thread's tokens before it (the count when none has).</summary>
    public int FirstAfterTokens(long tokens) => First(i => TokensBefore(i) >= tokens);

    private int First(Func<int, bool> holds)
    {
        var i = Tail;
        while (i < Messages.Count && !holds(i))
        {
            i++;
        }
        return i;
    }

    /// <summary>
    /// Where a window that should start at <paramref name="index"/> can start, in the newest run: at the first question
    /// at or after it; failing that, at the question of the newest unit (sent whole) if the policy's plan read it; failing
    /// that (a tool loop whose question was not read), before its first reply at or after the index — the request builder
    /// then leads it with a user message. The count when the run is empty.
    /// </summary>
    public int CutAt(int index)
    {
        index = Math.Clamp(index, Tail, Messages.Count);
        var newest = -1;
        foreach (var unit in _units)
        {
            if (unit.Start < Tail || !unit.Whole)
            {
                continue;
            }
            if (unit.Start >= index)
            {
                return unit.Start;
            }
            if (unit.Start >= _floor)
            {
                newest = unit.Start;
            }
        }
        return newest >= 0 ? newest : NextReply(index, Messages.Count);
    }

    /// <summary>
    /// The first place after the oldest message where the messages before <paramref name="limit"/> can be cut: the next
    /// question, or, inside a tool loop, the next reply (dropping one call-and-result step); <paramref name="limit"/> when there is none.
    /// </summary>
    public int NextCut(int limit)
    {
        var question = _units.FirstOrDefault(u => u.Whole && u.Start >= 1 && u.Start < limit);
        return question is not null ? question.Start : NextReply(1, limit);
    }

    /// <summary>
    /// How many messages come before the tool loop that <paramref name="next"/> continues: all of them when it is a new
    /// question; none when the messages start inside the loop.
    /// </summary>
    public int BeforeLoop(Message next) =>
        IsTurnStart(next) ? Messages.Count : _units.LastOrDefault(u => u.Whole && u.Start >= 1)?.Start ?? 0;

    /// <summary>
    /// The pinned units before <paramref name="index"/>, whole: a unit is sent when any of its messages is pinned and it
    /// can stand alone (its question and its final reply were read, one after the other).
    /// </summary>
    public IReadOnlyList<LedgerMessage> PinnedBefore(int index) =>
        [.. _units
            .Where(u => u.End <= index && u.Whole && !u.Open && u.Count >= 2 && Messages[u.End - 1].Message.Role == Role.Assistant
                && Enumerable.Range(u.Start, u.Count).Any(i => Messages[i].Pinned) && Alternates(u))
            .SelectMany(u => Messages.Skip(u.Start).Take(u.Count))];

    /// <summary>Total stored tokens of messages.</summary>
    public static long Tokens(IEnumerable<LedgerMessage> messages) => messages.Sum(m => (long)m.Tokens);

    private bool Alternates(HistoryUnit unit)
    {
        for (var i = unit.Start + 1; i < unit.End; i++)
        {
            if (Messages[i].Message.Role == Messages[i - 1].Message.Role)
            {
                return false;
            }
        }
        return true;
    }

    private int NextReply(int from, int limit)
    {
        var i = from;
        while (i < limit && Messages[i].Message.Role != Role.Assistant)
        {
            i++;
        }
        return i;
    }
}
