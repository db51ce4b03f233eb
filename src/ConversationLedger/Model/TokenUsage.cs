using System.Text.Json;

namespace ConversationLedger;

/// <summary>
/// Every field of the API's <c>usage</c> object for one call. Total prompt tokens are
/// input + cache creation + cache read.
/// </summary>
public sealed record TokenUsage
{
    /// <summary>Input tokens after the last cache breakpoint (billed at the base rate).</summary>
    public long InputTokens { get; init; }

    /// <summary>Output tokens, thinking included.</summary>
    public long OutputTokens { get; init; }

    /// <summary>Tokens written to the prompt cache (5m and 1h together).</summary>
    public long CacheCreationInputTokens { get; init; }

    /// <summary>Tokens read from the prompt cache.</summary>
    public long CacheReadInputTokens { get; init; }

    /// <summary>Cache writes with the 5-minute TTL.</summary>
    public long CacheCreation5mInputTokens { get; init; }

    /// <summary>Cache writes with the 1-hour TTL.</summary>
    public long CacheCreation1hInputTokens { get; init; }

    /// <summary>Output tokens spent on thinking (part of <see cref="OutputTokens"/>).</summary>
    public long ThinkingTokens { get; init; }

    /// <summary>Server tool requests (web search, web fetch…) by tool name.</summary>
    public IReadOnlyDictionary<string, long> ServerToolUse { get; init; } = new Dictionary<string, long>();

    /// <summary>The service tier that served the call, when reported.</summary>
    public string? ServiceTier { get; init; }

    /// <summary>All prompt tokens: input + cache creation + cache read.</summary>
    public long TotalInputTokens => InputTokens + CacheCreationInputTokens + CacheReadInputTokens;

    /// <summary>Reads the API's <c>usage</c> object; missing fields are zero.</summary>
    public static TokenUsage Parse(JsonElement usage)
    {
        if (usage.ValueKind != JsonValueKind.Object)
        {
            return new TokenUsage();
        }
        var creation = Get(usage, "cache_creation");
        var details = Get(usage, "output_tokens_details");
        var serverTools = new Dictionary<string, long>();
        if (Get(usage, "server_tool_use") is { ValueKind: JsonValueKind.Object } st)
        {
            foreach (var p in st.EnumerateObject())
            {
                if (p.Value.ValueKind == JsonValueKind.Number)
                {
                    serverTools[p.Name] = p.Value.GetInt64();
                }
            }
        }
        return new TokenUsage
        {
            InputTokens = Long(usage, "input_tokens"),
            OutputTokens = Long(usage, "output_tokens"),
            CacheCreationInputTokens = Long(usage, "cache_creation_input_tokens"),
            CacheReadInputTokens = Long(usage, "cache_read_input_tokens"),
            CacheCreation5mInputTokens = Long(creation, "ephemeral_5m_input_tokens"),
            CacheCreation1hInputTokens = Long(creation, "ephemeral_1h_input_tokens"),
            ThinkingTokens = Long(details, "thinking_tokens"),
            ServerToolUse = serverTools,
            ServiceTier = Get(usage, "service_tier") is { ValueKind: JsonValueKind.String } tier ? tier.GetString() : null,
        };
    }

    /// <summary>Writes the usage in the API's shape.</summary>
    public void WriteTo(Utf8JsonWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStartObject();
        writer.WriteNumber("input_tokens", InputTokens);
        writer.WriteNumber("output_tokens", OutputTokens);
        writer.WriteNumber("cache_creation_input_tokens", CacheCreationInputTokens);
        writer.WriteNumber("cache_read_input_tokens", CacheReadInputTokens);
        writer.WriteStartObject("cache_creation");
        writer.WriteNumber("ephemeral_5m_input_tokens", CacheCreation5mInputTokens);
        writer.WriteNumber("ephemeral_1h_input_tokens", CacheCreation1hInputTokens);
        writer.WriteEndObject();
        writer.WriteStartObject("output_tokens_details");
        writer.WriteNumber("thinking_tokens", ThinkingTokens);
        writer.WriteEndObject();
        if (ServerToolUse.Count > 0)
        {
            writer.WriteStartObject("server_tool_use");
            foreach (var (name, count) in ServerToolUse)
            {
                writer.WriteNumber(name, count);
            }
            writer.WriteEndObject();
        }
        if (ServiceTier is not null)
        {
            writer.WriteString("service_tier", ServiceTier);
        }
        writer.WriteEndObject();
    }

    /// <summary>The usage as API JSON.</summary>
    public string ToJson() => Json.Write(WriteTo);

    /// <inheritdoc />
    public bool Equals(TokenUsage? other) => other is not null
        && InputTokens == other.InputTokens && OutputTokens == other.OutputTokens
        && CacheCreationInputTokens == other.CacheCreationInputTokens && CacheReadInputTokens == other.CacheReadInputTokens
        && CacheCreation5mInputTokens == other.CacheCreation5mInputTokens && CacheCreation1hInputTokens == other.CacheCreation1hInputTokens
        && ThinkingTokens == other.ThinkingTokens && ServiceTier == other.ServiceTier
        && ServerToolUse.Count == other.ServerToolUse.Count
        && ServerToolUse.All(p => other.ServerToolUse.TryGetValue(p.Key, out var v) && v == p.Value);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(InputTokens, OutputTokens, CacheCreationInputTokens, CacheReadInputTokens);

    private static JsonElement Get(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) ? v : default;

    private static long Long(JsonElement e, string name) =>
        Get(e, name) is { ValueKind: JsonValueKind.Number } v ? v.GetInt64() : 0;
}

/// <summary>The usage of one model call, with the model that served it and its cost.</summary>
/// <param name="Model">The model id the API reported.</param>
/// <param name="Usage">Every usage field.</param>
/// <param name="CostUsd">The cost in US dollars from the configured price table (0 when the model has no price).</param>
/// <param name="RequestId">The API's request id, when known.</param>
/// <param name="StopReason">Why the model stopped.</param>
public sealed record UsageRecord(string Model, TokenUsage Usage, decimal CostUsd, string? RequestId = null, string? StopReason = null)
{
    /// <summary>
    /// Why this call, though billed, is part of no committed turn or summary, or null when it is: <c>cancelled</c> (a
    /// stream stopped after the API reported its usage; only what it had reported is recorded), <c>interrupted</c> (a stream
    /// that broke after it started), <c>conflict</c> (another writer committed first), <c>refused</c> (the reply could not be
    /// stored), <c>summary failed</c> (a summary that came back empty or lost a conflict).
    /// </summary>
    public string? Uncommitted { get; init; }
}
