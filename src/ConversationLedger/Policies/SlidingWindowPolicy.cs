namespace ConversationLedger;

/// <summary>Settings of a <see cref="SlidingWindowPolicy"/>.</summary>
public sealed record SlidingWindowOptions
{
    /// <summary>Keep at least the newest this many messages (null: no message limit). <value>The default value is 20.</value></summary>
    public int? Messages { get; init; } = 20;

    /// <summary>Keep the newest messages within this many tokens (null: no token limit). <value>The default value is null.</value></summary>
    public long? Tokens { get; init; }

    /// <summary>
    /// How far the window's start moves at once, in messages (for <see cref="Messages"/>). 1 slides every turn, which
    /// changes the prompt prefix every turn and defeats the prompt cache; larger steps keep the prefix byte-stable
    /// between steps. <value>The default value is 1.</value>
    /// </summary>
    public int MessageStep { get; init; } = 1;

    /// <summary>How far the window's start moves at once, in tokens (for <see cref="Tokens"/>). <value>The default value is 1.</value></summary>
    public long TokenStep { get; init; } = 1;

    /// <summary>Whether pinned messages (the first exchange is pinned by default) are sent ahead of the window. <value>The default value is true.</value></summary>
    public bool IncludePins { get; init; } = true;
}

/// <summary>
/// Pinned messages plus the newest messages, by count and/or tokens: the guide's sliding window with pinned
/// messages, and, without pins, plain truncation of the oldest messages. The window only starts at a clean user
/// message, so tool exchanges stay whole. With steps larger than one the window moves in jumps, keeping the
/// prompt prefix stable (and cached) in between.
/// </summary>
public sealed class SlidingWindowPolicy : IHistoryPolicy
{
    private readonly SlidingWindowOptions _options;

    /// <summary>Creates the policy.</summary>
    public SlidingWindowPolicy(SlidingWindowOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Messages is null && options.Tokens is null)
        {
            throw new ArgumentException("a window needs a message or a token limit", nameof(options));
        }
        if (options.Messages is { } m)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(m, nameof(options));
        }
        if (options.Tokens is { } t)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(t, nameof(options));
        }
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.MessageStep, nameof(options));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.TokenStep, nameof(options));
        _options = options;
    }

    /// <summary>The guide's <c>manage_history</c>: the first exchange pinned plus the newest messages, sliding every turn.</summary>
    public static SlidingWindowPolicy Guide(int maxMessages = 20) => new(new SlidingWindowOptions { Messages = maxMessages - 2 });

    /// <summary>Plain truncation: the newest messages by count and/or tokens, no pins.</summary>
    public static SlidingWindowPolicy TruncateOldest(int? messages = null, long? tokens = null) =>
        new(new SlidingWindowOptions { Messages = messages, Tokens = tokens, IncludePins = false });

    /// <summary>The settings.</summary>
    public SlidingWindowOptions Options => _options;

    /// <inheritdoc />
    public WindowSpec Plan()
    {
        // Read one step more than the window so the stepped start is always among the rows read.
        return new WindowSpec
        {
            LastMessages = _options.Messages is { } m ? m + _options.MessageStep : null,
            LastTokens = _options.Tokens is { } t ? t + _options.TokenStep : null,
        };
    }

    /// <inheritdoc />
    public HistorySelection Select(ConversationView view)
    {
        ArgumentNullException.ThrowIfNull(view);
        var messages = view.Messages;
        var tail = ContiguousTailStart(view);
        var start = tail;
        WindowSpec? readMore = null;
        var (messagesTotal, tokensTotal, asked) = TotalsWhenTheTurnBegan(view, tail);
        var firstRead = messages.Count > tail ? messages[tail].Ordinal : view.Head.RunningMessages + 1;
        var olderUnread = firstRead > view.MessagesBeforeReset + 1;
        if (asked < 0 && olderUnread)
        {
            // A tool loop longer than the rows read: look further back for its question (a bounded number of times).
            readMore = new WindowSpec { LastMessages = LoopLookBack * Math.Max(messages.Count - tail, MinLoopRead) };
        }
        asked = asked < 0 ? messages.Count : asked;
        var total = view.Head.RunningTokens;
        var tokensBefore = TokensBefore(messages, total);
        // The window is placed among the rows the plan read when the turn began, so inside a tool loop it lands where its
        // question found it, whatever has been read since. Only a held window can need rows before those read.
        var planned = PlanAt(view, messagesTotal, tokensTotal);
        if (olderUnread && readMore is null && messagesTotal != view.Head.RunningMessages
            && Holds(planned, firstRead - 1, messages.Count > tail ? tokensBefore[tail] - 1 : total, total))
        {
            readMore = planned;
        }
        var firstPlanned = tail;
        while (firstPlanned < messages.Count && !Holds(planned, messages[firstPlanned].Ordinal, tokensBefore[firstPlanned], total))
        {
            firstPlanned++;
        }

        if (_options.Messages is { } keep)
        {
            var firstOrdinal = messagesTotal <= keep ? 1 : (messagesTotal - keep) / _options.MessageStep * _options.MessageStep + 1;
            while (start < messages.Count && messages[start].Ordinal < firstOrdinal)
            {
                start++;
            }
        }
        if (_options.Tokens is { } budget)
        {
            // Tokens before each message, from the stored per-message counts.
            var over = tokensTotal - budget;
            var floor = over <= 0 ? 0 : (over + _options.TokenStep - 1) / _options.TokenStep * _options.TokenStep;
            while (start < messages.Count && tokensBefore[start] < floor)
            {
                start++;
            }
        }
        start = StartOfWholeTurns(messages, firstPlanned, asked, start);

        var window = messages.Skip(start).ToArray();
        var pinned = _options.IncludePins ? HistoryUnits.PinnedTurns(messages, start) : [];
        return new HistorySelection
        {
            Pinned = pinned,
            Summary = view.Summary,
            Window = window,
            Omitted = Omitted(view, window, pinned),
            ReadMore = readMore,
        };
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"window({(_options.Messages is { } m ? $"{m} messages" : "")}{(_options.Messages is not null && _options.Tokens is not null ? ", " : "")}{(_options.Tokens is { } t ? $"{t} tokens" : "")}{(_options.MessageStep > 1 ? $", step {_options.MessageStep}" : "")}{(_options.Tokens is not null && _options.TokenStep > 1 ? $", step {_options.TokenStep} tokens" : "")}{(_options.IncludePins ? ", pins" : "")})";

    // The thread's message and token totals the window is placed by, and how many of the messages read the turn's first
    // request had. Inside a tool loop (the newest reply calls a tool, so the next message answers it) those are the totals
    // from when the loop's question was sent, and the messages before it: the window stays where it was for the whole
    // loop, and with it the prompt prefix — the prompt cache and the thinking blocks of the loop's replies stay valid.
    // Asked is -1 only inside a tool loop whose question is not among the rows read; the window is then placed as usual.
    private static (long Messages, long Tokens, int Asked) TotalsWhenTheTurnBegan(ConversationView view, int tail)
    {
        var messages = view.Messages;
        if (messages.Count > 0 && messages[^1].Message.CallsTools)
        {
            var question = HistoryUnits.PreviousTurnStart(messages, messages.Count - 1, tail);
            return question < 0
                ? (view.Head.RunningMessages, view.Head.RunningTokens, -1)
                : (messages[question].Ordinal - 1, view.Head.RunningTokens - HistoryUnits.Tokens(messages.Skip(question)), question);
        }
        return (view.Head.RunningMessages, view.Head.RunningTokens, messages.Count);
    }

    // What Plan() reads, as it read it when the turn began: the newest messages and tokens up to then.
    private WindowSpec PlanAt(ConversationView view, long messagesTotal, long tokensTotal) => new()
    {
        FromMessage = _options.Messages is { } m ? Math.Max(messagesTotal - m - _options.MessageStep + 1, view.MessagesBeforeReset + 1) : null,
        LastTokens = _options.Tokens is { } t ? view.Head.RunningTokens - tokensTotal + t + _options.TokenStep : null,
    };

    // Whether a read holds the message at this ordinal with this many of the thread's tokens before it.
    private static bool Holds(WindowSpec read, long ordinal, long tokensBefore, long total) =>
        (read.FromMessage is not { } from || ordinal >= from) && (read.LastTokens is not { } last || tokensBefore >= total - last);

    // The thread's tokens before each message, from the stored per-message counts (meaningful for the contiguous tail).
    private static long[] TokensBefore(IReadOnlyList<LedgerMessage> messages, long total)
    {
        var before = new long[messages.Count];
        for (var i = messages.Count - 1; i >= 0; i--)
        {
            total -= messages[i].Tokens;
            before[i] = total;
        }
        return before;
    }

    // How much further back a read looks for the question of a long tool loop, as a multiple of what was read.
    private const int LoopLookBack = 4;

    // The fewest rows that multiple is taken of: a token window's read can hold a single long tool result, and four times
    // that would rarely reach the question, leaving the window to move inside the loop (and its thinking refused).
    private const int MinLoopRead = 16;

    // The window starts at the first turn start at or after the limit, among the messages the turn's first request had
    // (those before a tool loop's question; the loop itself follows). They can leave none there: then at the last turn
    // start before the limit among the rows the plan read (the last turn is sent whole with its question), and failing
    // that inside a tool loop, before an assistant message (the request builder leads it with the summary or a note).
    private static int StartOfWholeTurns(IReadOnlyList<LedgerMessage> messages, int firstPlanned, int asked, int start)
    {
        var had = messages.Take(asked).ToArray();
        start = Math.Min(start, had.Length);
        var next = HistoryUnits.NextTurnStart(had, start);
        if (next < had.Length)
        {
            return next;
        }
        var previous = HistoryUnits.PreviousTurnStart(had, start - 1, firstPlanned);
        return previous >= 0 ? previous : HistoryUnits.NextCut(had, start);
    }

    // The read window is the contiguous run of messages at the end; pinned messages read from further back come before it.
    // Withdrawn messages (an undone turn) leave a gap in the ordinals that is no gap in what was read.
    private static int ContiguousTailStart(ConversationView view)
    {
        var messages = view.Messages;
        var i = messages.Count - 1;
        while (i > 0 && view.Consecutive(messages[i - 1].Ordinal, messages[i].Ordinal))
        {
            i--;
        }
        return Math.Max(i, 0);
    }

    internal static IReadOnlyList<Omission> Omitted(ConversationView view, IReadOnlyList<LedgerMessage> window, IReadOnlyList<LedgerMessage> pinned)
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
