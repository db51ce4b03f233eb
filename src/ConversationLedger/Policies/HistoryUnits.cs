namespace ConversationLedger;

/// <summary>
/// How history is cut without breaking the API's rules: at turn boundaries. A turn starts at a clean user
/// message (one that answers no tool call) and runs until the next one, so a tool_use and its tool_result
/// are never separated and alternation holds on both sides of a cut. A tool loop longer than the window has
/// no turn boundary to cut at; there history is cut before an assistant message instead, and the request
/// builder leads it with a user message (the summary, or a note of what was left out). Shared by every policy.
/// </summary>
public static class HistoryUnits
{
    /// <summary>Whether a message can start a request's history: a user message that answers no tool call.</summary>
    public static bool IsTurnStart(Message message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return message.Role == Role.User && message.Content.All(b => b.ToolResultFor is null);
    }

    /// <summary>The index of the first turn start at or after <paramref name="index"/> (or the count when there is none).</summary>
    public static int NextTurnStart(IReadOnlyList<LedgerMessage> messages, int index)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var i = Math.Max(0, index);
        while (i < messages.Count && !IsTurnStart(messages[i].Message))
        {
            i++;
        }
        return i;
    }

    /// <summary>The index of the last turn start at or before <paramref name="index"/> and not before <paramref name="floor"/>; -1 when there is none.</summary>
    public static int PreviousTurnStart(IReadOnlyList<LedgerMessage> messages, int index, int floor)
    {
        ArgumentNullException.ThrowIfNull(messages);
        for (var i = Math.Min(index, messages.Count - 1); i >= Math.Max(floor, 0); i--)
        {
            if (IsTurnStart(messages[i].Message))
            {
                return i;
            }
        }
        return -1;
    }

    /// <summary>
    /// Where history from <paramref name="index"/> on can start: the first turn start at or after it, or, when a tool
    /// loop leaves none, the first assistant message at or after it (or the count when there is neither).
    /// </summary>
    public static int NextCut(IReadOnlyList<LedgerMessage> messages, int index)
    {
        var turn = NextTurnStart(messages, index);
        if (turn < messages.Count)
        {
            return turn;
        }
        var i = Math.Max(0, index);
        while (i < messages.Count && messages[i].Message.Role != Role.Assistant)
        {
            i++;
        }
        return i;
    }

    /// <summary>
    /// The pinned messages grown to whole turns (a pinned reply brings its question, a tool call its answer)
    /// among the messages read, dropping turns that are incomplete in what was read.
    /// </summary>
    public static IReadOnlyList<LedgerMessage> PinnedTurns(IReadOnlyList<LedgerMessage> messages, int before)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var result = new List<LedgerMessage>();
        var turn = new List<LedgerMessage>();
        void Close()
        {
            if (turn.Any(m => m.Pinned) && IsComplete(turn))
            {
                result.AddRange(turn);
            }
            turn.Clear();
        }
        for (var i = 0; i < Math.Min(before, messages.Count); i++)
        {
            // A turn ends at the next turn start, or where the rows read skip over messages that were not read.
            if (turn.Count > 0 && (IsTurnStart(messages[i].Message) || messages[i].Ordinal != turn[^1].Ordinal + 1))
            {
                Close();
            }
            if (turn.Count > 0 || IsTurnStart(messages[i].Message))
            {
                turn.Add(messages[i]);
            }
        }
        Close();
        return result;
    }

    /// <summary>Total stored tokens of messages.</summary>
    public static long Tokens(IEnumerable<LedgerMessage> messages) => messages.Sum(m => (long)m.Tokens);

    // A turn can stand alone when its messages are consecutive in the ledger and it ends with a reply that calls no tool.
    private static bool IsComplete(List<LedgerMessage> turn)
    {
        if (turn.Count < 2 || turn[^1].Message.Role != Role.Assistant || turn[^1].Message.CallsTools)
        {
            return false;
        }
        for (var k = 1; k < turn.Count; k++)
        {
            if (turn[k].Message.Role == turn[k - 1].Message.Role)
            {
                return false;
            }
        }
        return true;
    }
}
