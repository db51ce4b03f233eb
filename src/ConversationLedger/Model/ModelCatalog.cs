using System.Text.Json;
using System.Text.Json.Serialization;

namespace ConversationLedger;

/// <summary>What the ledger must know about one model: its limits and its prices.</summary>
public sealed record ModelInfo
{
    /// <summary>The model id the API accepts.</summary>
    public required string Id { get; init; }

    /// <summary>Other ids (dated snapshots, platform spellings) that mean the same model.</summary>
    public IReadOnlyList<string> Aliases { get; init; } = [];

    /// <summary>The context window in tokens.</summary>
    public required long ContextWindow { get; init; }

    /// <summary>The largest <c>max_tokens</c> the model accepts.</summary>
    public required long MaxOutput { get; init; }

    /// <summary>US dollars per million base input tokens.</summary>
    public decimal InputPerMTok { get; init; }

    /// <summary>US dollars per million output tokens.</summary>
    public decimal OutputPerMTok { get; init; }

    /// <summary>The shortest prefix the prompt cache stores; shorter prefixes are silently not cached.</summary>
    public long MinCacheableTokens { get; init; } = 1024;

    /// <summary>Whether a request may end with a partial assistant message.</summary>
    public bool SupportsPrefill { get; init; }

    /// <summary>
    /// The <c>thinking.type</c> values the model accepts: <c>"adaptive"</c> (depth set by effort), <c>"enabled"</c> (the manual
    /// <c>budget_tokens</c> form), <c>"disabled"</c>, <c>"between_tools"</c> (no up-front thinking, only between tool calls);
    /// empty when it cannot think.
    /// </summary>
    public IReadOnlyList<string> ThinkingForms { get; init; } = [];

    /// <summary>Whether a request without <c>thinking</c> gets adaptive thinking.</summary>
    public bool ThinksByDefault { get; init; }

    /// <summary>What adaptive thinking returns when the request names no <c>display</c>: "summarized" or "omitted" (empty thinking text, signature only).</summary>
    public string DefaultThinkingDisplay { get; init; } = "summarized";

    /// <summary>The <c>output_config.effort</c> levels the model takes, lowest first; empty when it takes none.</summary>
    public IReadOnlyList<string> EffortLevels { get; init; } = [];

    /// <summary>Whether <c>tool_choice</c> may force tool use (<c>any</c> or <c>tool</c>).</summary>
    public bool SupportsForcedToolUse { get; init; } = true;

    /// <summary>Whether <c>temperature</c>, <c>top_p</c> and <c>top_k</c> may have non-default values.</summary>
    public bool SupportsSamplingParameters { get; init; } = true;

    /// <summary>Whether <c>role: "system"</c> messages are accepted inside <c>messages</c> (after the first message).</summary>
    public bool SupportsSystemMessages { get; init; }

    /// <summary>
    /// The starting ratio between the model's token counts and the local o200k estimate (its tokenizer counts this much
    /// more); replies refine it. <value>The default value is 1.</value>
    /// </summary>
    public double TokenFactor { get; init; } = 1.0;

    /// <summary>The day the API stopped serving the model, or null while it is served.</summary>
    public DateOnly? RetiredOn { get; init; }

    /// <summary>Whether the model accepts the given <c>thinking.type</c>.</summary>
    public bool TakesThinking(string form) => ThinkingForms.Contains(form, StringComparer.Ordinal);
}

/// <summary>
/// The table of models, their limits and prices, loaded from configuration (JSON). The built-in
/// table is a default; hosts override it from a file. Prices: a 5-minute cache write costs 1.25× base
/// input, a 1-hour write 2×, a cache read 0.1×. Immutable and thread-safe.
/// </summary>
public sealed class ModelCatalog
{
    /// <summary>Multiplier of base input price for 5-minute cache writes.</summary>
    public const decimal CacheWrite5mMultiplier = 1.25m;

    /// <summary>Multiplier of base input price for 1-hour cache writes.</summary>
    public const decimal CacheWrite1hMultiplier = 2m;

    /// <summary>Multiplier of base input price for cache reads.</summary>
    public const decimal CacheReadMultiplier = 0.1m;

    private static readonly Lazy<ModelCatalog> BuiltIn = new(() =>
    {
        using var stream = typeof(ModelCatalog).Assembly.GetManifestResourceStream("ConversationLedger.models.json")
            ?? throw new InvalidOperationException("the built-in model table is missing from the assembly");
        return Load(stream);
    });

    private readonly Dictionary<string, ModelInfo> _byId;

    /// <summary>Creates a catalog from model entries.</summary>
    public ModelCatalog(IEnumerable<ModelInfo> models)
    {
        ArgumentNullException.ThrowIfNull(models);
        Models = models.ToArray();
        _byId = new Dictionary<string, ModelInfo>(StringComparer.Ordinal);
        foreach (var model in Models)
        {
            foreach (var id in model.Aliases.Prepend(model.Id))
            {
                if (!_byId.TryAdd(id, model))
                {
                    throw new ArgumentException($"model id {id} appears twice in the model table", nameof(models));
                }
            }
        }
    }

    /// <summary>The built-in table.</summary>
    public static ModelCatalog Default => BuiltIn.Value;

    /// <summary>Every model in the table.</summary>
    public IReadOnlyList<ModelInfo> Models { get; }

    /// <summary>Loads a table from JSON of the shape <c>{"models":[{"id":…,"contextWindow":…}]}</c>.</summary>
    public static ModelCatalog Load(Stream json)
    {
        var file = JsonSerializer.Deserialize<CatalogFile>(json, SerializerOptions)
            ?? throw new LedgerFormatException("the model table is empty");
        return new ModelCatalog(file.Models ?? []);
    }

    /// <summary>Finds a model by id or alias.</summary>
    public bool TryGet(string id, out ModelInfo model) => _byId.TryGetValue(id, out model!);

    /// <summary>Finds a model by id or alias.</summary>
    /// <exception cref="UnknownModelException">The id is not in the table.</exception>
    public ModelInfo Get(string id) => TryGet(id, out var model) ? model : throw new UnknownModelException(id);

    /// <summary>The cost of one call in US dollars; 0 for a model the table does not know.</summary>
    public decimal Cost(string model, TokenUsage usage)
    {
        ArgumentNullException.ThrowIfNull(usage);
        if (!TryGet(model, out var info))
        {
            return 0m;
        }
        // When the API reports no 5m/1h split, the whole cache write is billed at the 5-minute rate.
        var split = usage.CacheCreation5mInputTokens + usage.CacheCreation1hInputTokens;
        var write5m = split == 0 ? usage.CacheCreationInputTokens : usage.CacheCreation5mInputTokens;
        var inputUnits = usage.InputTokens
            + write5m * CacheWrite5mMultiplier
            + usage.CacheCreation1hInputTokens * CacheWrite1hMultiplier
            + usage.CacheReadInputTokens * CacheReadMultiplier;
        return (inputUnits * info.InputPerMTok + usage.OutputTokens * info.OutputPerMTok) / 1_000_000m;
    }

    private static readonly JsonSerializerOptions SerializerOptions = new()
    {
        PropertyNameCaseInsensitive = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    private sealed class CatalogFile
    {
        [JsonPropertyName("models")]
        public List<ModelInfo>? Models { get; set; }
    }
}
