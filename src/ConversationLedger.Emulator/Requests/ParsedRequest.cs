using System.Text.Json;

namespace ConversationLedger.Emulator;

/// <summary>A Messages API request body that passed the emulator's shape checks.</summary>
internal sealed record ParsedRequest
{
    /// <summary>The request as the core library models it (used for token counting and validation).</summary>
    public required ModelRequest Request { get; init; }

    /// <summary>Whether the client asked for a server-sent event stream.</summary>
    public bool Stream { get; init; }

    /// <summary>Each tool definition, verbatim, in order.</summary>
    public IReadOnlyList<JsonElement> Tools { get; init; } = [];

    /// <summary>The sampling parameters sent (temperature, top_p, top_k) and their values; the model decides whether it takes them.</summary>
    public IReadOnlyDictionary<string, double> Sampling { get; init; } = new Dictionary<string, double>();

    /// <summary>The <c>thinking.type</c> sent, or null.</summary>
    public string? ThinkingType => ModelRules.ThinkingType(Request.Thinking);

    /// <summary>What the model returns of its thinking: the request's <c>display</c>, else the model's default; manual thinking is always summarized.</summary>
    public string ThinkingDisplay(ModelInfo model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (Request.Thinking is { ValueKind: JsonValueKind.Object } thinking && thinking.TryGetProperty("display", out var display)
            && display.ValueKind == JsonValueKind.String)
        {
            return display.GetString()!;
        }
        return ThinkingType == "enabled" ? "summarized" : model.DefaultThinkingDisplay;
    }
}
