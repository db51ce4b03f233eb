namespace ConversationLedger;

/// <summary>Estimated tokens of each part of a request.</summary>
/// <param name="System">The system prompt.</param>
/// <param name="Summary">The summary of older history.</param>
/// <param name="Pinned">Pinned messages.</param>
/// <param name="Window">The window of newest messages.</param>
/// <param name="NewMessage">The new user message.</param>
/// <param name="Tools">The tool definitions.</param>
public sealed record RequestParts(long System, long Summary, long Pinned, long Window, long NewMessage, long Tools = 0)
{
    /// <summary>All parts plus the request's framing.</summary>
    public long Total => Tools + System + Summary + Pinned + Window + NewMessage + O200kTokenCounter.RequestOverhead;
}

/// <summary>
/// The next request of a thread, exactly as it would be sent, and everything needed to explain it: tokens
/// per part, where the cache breakpoints are, what was left out and why, how full the context window is and
/// what the input will cost at most. This is the request preview the CLI and the service show.
/// </summary>
public sealed record PreparedRequest
{
    /// <summary>The request.</summary>
    public required ModelRequest Request { get; init; }

    /// <summary>The policy's selection it was built from.</summary>
    public required HistorySelection Selection { get; init; }

    /// <summary>Local token estimates per part (before calibration).</summary>
    public required RequestParts Parts { get; init; }

    /// <summary>The estimated prompt tokens, scaled by the model's learned calibration factor.</summary>
    public required long EstimatedInputTokens { get; init; }

    /// <summary>The model's context window.</summary>
    public required long ContextWindow { get; init; }

    /// <summary>The most prompt tokens that may be sent: window − max_tokens − margin.</summary>
    public required long Budget { get; init; }

    /// <summary>Where the cache breakpoints are, in plain words (at most 4).</summary>
    public required IReadOnlyList<string> Breakpoints { get; init; }

    /// <summary>The input cost if nothing were read from the cache, in US dollars.</summary>
    public required decimal UncachedInputCostUsd { get; init; }

    /// <summary>How full the context window will be, 0 … 1 (estimated prompt tokens ÷ window).</summary>
    public double Fill => ContextWindow <= 0 ? 0 : (double)EstimatedInputTokens / ContextWindow;

    /// <summary>The request JSON, as it will be sent.</summary>
    public string ToJson() => Request.ToJson();
}
