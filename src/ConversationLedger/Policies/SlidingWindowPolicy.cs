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
        var units = view.Units;
        var start = units.Tail;
        if (_options.Messages is { } keep)
        {
            // The first message kept, moved in whole steps so the prefix stays put between them.
            var total = view.Head.RunningMessages;
            start = units.FirstFromOrdinal(total <= keep ? 1 : (total - keep) / _options.MessageStep * _options.MessageStep + 1);
        }
        if (_options.Tokens is { } budget)
        {
            var over = view.Head.RunningTokens - budget;
            start = Math.Max(start, units.FirstAfterTokens(over <= 0 ? 0 : (over + _options.TokenStep - 1) / _options.TokenStep * _options.TokenStep));
        }
        return HistorySelection.From(view, units.CutAt(start), _options.IncludePins);
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"window({(_options.Messages is { } m ? $"{m} messages" : "")}{(_options.Messages is not null && _options.Tokens is not null ? ", " : "")}{(_options.Tokens is { } t ? $"{t} tokens" : "")}{(_options.MessageStep > 1 ? $", step {_options.MessageStep}" : "")}{(_options.Tokens is not null && _options.TokenStep > 1 ? $", step {_options.TokenStep} tokens" : "")}{(_options.IncludePins ? ", pins" : "")})";
}
