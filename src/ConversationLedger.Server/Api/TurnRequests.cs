using System.Buffers;
using System.Text.Json;
using System.Text.Unicode;
using ConversationLedger.Server.State;

namespace ConversationLedger.Server.Api;

/// <summary>A turn's settings: the thread's, with the request's overrides on top, each checked with the field it came from.</summary>
internal static class TurnRequests
{
    /// <summary>The ledger's per-turn options for a request on <paramref name="thread"/>.</summary>
    /// <exception cref="ArgumentException">A setting is not valid, naming its field.</exception>
    public static TurnOptions Options(ThreadInfo thread, TurnRequest request)
    {
        ArgumentNullException.ThrowIfNull(thread);
        ArgumentNullException.ThrowIfNull(request);
        if (request.MaxTokens is <= 0)
        {
            throw new ArgumentException("max_tokens must be positive", "max_tokens");
        }
        var policy = request.Policy ?? thread.Policy;
        return new TurnOptions
        {
            Model = request.Model ?? thread.Model,
            MaxTokens = request.MaxTokens,
            Policy = policy is null ? null : HistoryPolicies.TryParse(policy, out var parsed, out var error) ? parsed : throw new ArgumentException(error, "policy"),
            Thinking = request.Thinking is { } thinking ? Thinking(thinking) : null,
            Effort = request.Effort,
            Tools = request.Tools,
            ToolChoice = request.ToolChoice,
        };
    }

    private static ThinkingOptions Thinking(JsonElement value) => value switch
    {
        { ValueKind: JsonValueKind.String } s when s.GetString() == "adaptive" => ThinkingOptions.Adaptive,
        { ValueKind: JsonValueKind.String } s when s.GetString() == "off" => ThinkingOptions.Off,
        { ValueKind: JsonValueKind.Number } n when n.TryGetInt32(out var budget) && budget >= ThinkingOptions.MinBudgetTokens => ThinkingOptions.WithBudget(budget),
        _ => throw new ArgumentException($"thinking must be \"adaptive\", \"off\" or a budget of at least {ThinkingOptions.MinBudgetTokens} tokens", "thinking"),
    };
}

/// <summary>Checks on free text that arrives in ids and metadata.</summary>
internal static class Text
{
    /// <summary>Whether <paramref name="value"/> is valid Unicode (no unpaired surrogates) without control characters.</summary>
    public static bool IsClean(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.Any(char.IsControl))
        {
            return false;
        }
        var buffer = ArrayPool<byte>.Shared.Rent(value.Length * 3);
        try
        {
            return Utf8.FromUtf16(value, buffer, out _, out _, replaceInvalidSequences: false) == OperationStatus.Done;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
