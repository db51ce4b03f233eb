using Microsoft.ML.Tokenizers;

namespace ConversationLedger;

/// <summary>
/// Estimates input tokens locally and fast: the one port the ledger counts through (messages when stored, system prompts,
/// summaries, tool definitions and summary pieces when requests are fitted). Implementations are thread-safe.
/// </summary>
public interface ITokenCounter
{
    /// <summary>Estimated tokens of plain text (a system prompt, a summary, tool definitions), without the framing of the block that carries it.</summary>
    int CountText(string text);

    /// <summary>Estimated tokens one message adds to a request.</summary>
    int CountTokens(Message message);

    /// <summary>Estimated input tokens of a whole request (system, messages, tools).</summary>
    long CountTokens(ModelRequest request);
}

/// <summary>
/// A local estimate with the o200k tokenizer (Microsoft.ML.Tokenizers) plus the API's per-message and
/// per-request framing. Claude's own tokenizer differs; <see cref="TokenCalibration"/> scales this
/// estimate by what real calls reported. The emulator uses this same counter for its usage figures.
/// </summary>
public sealed class O200kTokenCounter : ITokenCounter
{
    /// <summary>Framing tokens per message (role and separators).</summary>
    public const int MessageOverhead = 4;

    /// <summary>Framing tokens per request.</summary>
    public const int RequestOverhead = 3;

    /// <summary>Tokens charged for an image; the API's rule is about width × height / 750, capped near 1,600.</summary>
    public const int ImageTokens = 1600;

    // Loading the tokenizer's data takes about 0.4 s, so it is done once and shared; it is immutable.
    private static readonly Lazy<Tokenizer> Shared = new(() => TiktokenTokenizer.CreateForEncoding("o200k_base"));

    // The same texts come back turn after turn; 4 M characters (8 MB) hold the windows of hundreds of busy conversations.
    private static readonly RecentCounts Recent = new(maxChars: 4_000_000);

    /// <summary>The shared instance.</summary>
    public static O200kTokenCounter Instance { get; } = new();

    /// <summary>The longest run without whitespace counted in one piece (byte-pair merging takes time quadratic in a run's length).</summary>
    internal const int MaxRun = 200;

    /// <summary>Tokens of plain text.</summary>
    /// <remarks>
    /// A run of more than <see cref="MaxRun"/> characters without whitespace (a pasted blob, base64, a hostile "xxxx…") is counted
    /// in slices of <see cref="MaxRun"/>: counted whole, 200,000 such characters took 21 s (a 4 MB request: hours); sliced, 4,000,000 take about 1 s. The slices'
    /// sum is within a token or two per slice of the exact count; ordinary text is counted exactly as before.
    /// </remarks>
    public static int CountText(string text) => string.IsNullOrEmpty(text) ? 0 : Recent.GetOrCount(text, Count);

    private static int Count(string text)
    {
        if (LongestRun(text) <= MaxRun)
        {
            return Shared.Value.CountTokens(text);
        }
        var total = 0;
        var start = 0;
        var run = 0;
        for (var i = 0; i < text.Length; i++)
        {
            run = char.IsWhiteSpace(text[i]) ? 0 : run + 1;
            // Cut inside a long run, never between the halves of a surrogate pair.
            if (run >= MaxRun && !char.IsHighSurrogate(text[i]))
            {
                total += Shared.Value.CountTokens(text.AsSpan(start, i + 1 - start));
                start = i + 1;
                run = 0;
            }
        }
        return start < text.Length ? total + Shared.Value.CountTokens(text.AsSpan(start)) : total;
    }

    private static int LongestRun(string text)
    {
        var longest = 0;
        var run = 0;
        foreach (var c in text)
        {
            run = char.IsWhiteSpace(c) ? 0 : run + 1;
            longest = Math.Max(longest, run);
        }
        return longest;
    }

    /// <inheritdoc />
    int ITokenCounter.CountText(string text) => CountText(text);

    /// <inheritdoc />
    public int CountTokens(Message message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var total = MessageOverhead;
        foreach (var block in message.Content)
        {
            total += CountBlock(block);
        }
        return total;
    }

    /// <inheritdoc />
    public long CountTokens(ModelRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        long total = RequestOverhead;
        foreach (var block in request.System)
        {
            total += CountBlock(block);
        }
        foreach (var message in request.Messages)
        {
            total += CountTokens(message);
        }
        if (request.Tools is { } tools)
        {
            total += CountText(tools.GetRawText());
        }
        return total;
    }

    private static int CountBlock(ContentBlock block) => block.Type switch
    {
        "image" => ImageTokens,
        _ => CountText(block.ReadableText()) + 1,
    };
}

/// <summary>
/// Per-model factors that scale the local estimate towards what the API really counts, learned from the
/// <c>usage</c> of past calls (an exponential moving average of reported ÷ estimated prompt tokens). Thread-safe.
/// </summary>
public sealed class TokenCalibration
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, double> _factors = new(StringComparer.Ordinal);
    private readonly ModelCatalog _models;

    /// <summary>Creates a calibration that starts each model at its table's <see cref="ModelInfo.TokenFactor"/>.</summary>
    /// <param name="models">The model table; the built-in one when null.</param>
    public TokenCalibration(ModelCatalog? models = null) => _models = models ?? ModelCatalog.Default;

    /// <summary>How much one observation moves a factor. <value>The default value is 0.2.</value></summary>
    public double LearningRate { get; init; } = 0.2;

    /// <summary>The current factor for a model (its table's starting factor before any observation; 1 for a model the table does not know).</summary>
    public double FactorFor(string model) => _factors.TryGetValue(model, out var f) ? f : StartingFactor(model);

    private double StartingFactor(string model) => _models.TryGet(model, out var info) ? info.TokenFactor : 1.0;

    /// <summary>A local estimate scaled by the model's factor.</summary>
    public long Scale(string model, long estimate) => Apply(estimate, FactorFor(model));

    /// <summary>Tokens scaled by a factor, rounded up (so 100 × 1.3 is 130, not 131 through floating-point error).</summary>
    public static long Apply(long tokens, double factor) => (long)Math.Ceiling(Math.Round(tokens * factor, 6));

    /// <summary>Learns from one call: the local (unscaled) estimate of its prompt and the prompt tokens the API reported.</summary>
    public void Observe(string model, long estimate, long reported)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (estimate <= 0 || reported <= 0)
        {
            return;
        }
        // Bounded, and starting from the table's factor: one odd call (a cache-warming request, a proxy that rewrites prompts)
        // must not swing budgets.
        var ratio = Math.Clamp((double)reported / estimate, 0.25, 4.0);
        var start = StartingFactor(model);
        _factors.AddOrUpdate(model, start + (ratio - start) * LearningRate, (_, old) => old + (ratio - old) * LearningRate);
    }
}
