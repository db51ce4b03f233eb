namespace ConversationLedger;

/// <summary>A committed turn: the user message, the reply and the usage record, stored together.</summary>
public sealed record TurnResult
{
    /// <summary>The thread.</summary>
    public required ThreadKey Key { get; init; }

    /// <summary>The id shared by the turn's entries.</summary>
    public required string TurnId { get; init; }

    /// <summary>The stored user message.</summary>
    public required MessageEntry User { get; init; }

    /// <summary>The stored reply.</summary>
    public required MessageEntry Reply { get; init; }

    /// <summary>The stored usage entry (its record: model, tokens, cost, request id, stop reason).</summary>
    public required UsageEntry UsageEntry { get; init; }

    /// <summary>What the call used: input (uncached, cache reads, cache writes) and output tokens.</summary>
    public TokenUsage Usage => UsageEntry.Record.Usage;

    /// <summary>What the call cost in US dollars, by the model table's prices.</summary>
    public decimal CostUsd => UsageEntry.Record.CostUsd;

    /// <summary>The thread's head after the commit.</summary>
    public required ThreadHead Head { get; init; }

    /// <summary>The request that was sent, with its token estimates, cache breakpoints and omissions.</summary>
    public required PreparedRequest Request { get; init; }

    /// <summary>Whether the request filled the context window past the warning threshold (known before the call).</summary>
    public required bool ContextWarning { get; init; }

    /// <summary>Why a due summary could not be written (the turn went ahead without it), or null.</summary>
    public string? SummaryError { get; init; }

    /// <summary>How many messages the request carried.</summary>
    public int MessagesSent => Request.Request.Messages.Count;

    /// <summary>The model's context window in tokens.</summary>
    public long ContextWindow => Request.ContextWindow;

    /// <summary>The reply's text.</summary>
    public string ReplyText => Reply.Message.Text;

    /// <summary>Why the model stopped.</summary>
    public string? StopReason => UsageEntry.Record.StopReason;

    /// <summary>How full the context window was for this call (prompt tokens ÷ window), 0 … 1.</summary>
    public double ContextFill => ContextWindow <= 0 ? 0 : (double)Usage.TotalInputTokens / ContextWindow;
}

/// <summary>One update of a streamed turn.</summary>
public abstract record TurnUpdate;

/// <summary>Older entries are being summarized before the request is built (a model call of its own); sent before it starts.</summary>
public sealed record TurnSummarizing(long FromSequence, long ThroughSequence) : TurnUpdate;

/// <summary>The request about to be sent fills the context window past the warning threshold; sent before the call.</summary>
public sealed record TurnContextWarning(PreparedRequest Request) : TurnUpdate;

/// <summary>Reply text arrived.</summary>
public sealed record TurnTextDelta(string Text) : TurnUpdate;

/// <summary>Thinking text arrived.</summary>
public sealed record TurnThinkingDelta(string Text) : TurnUpdate;

/// <summary>The turn was committed; always the last update of a successful stream.</summary>
public sealed record TurnCommitted(TurnResult Turn) : TurnUpdate;
