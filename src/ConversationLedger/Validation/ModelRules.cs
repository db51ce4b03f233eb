using System.Globalization;
using System.Text.Json;

namespace ConversationLedger;

/// <summary>
/// What a model refuses that another would accept, read from the model table (<see cref="ModelInfo"/>) and worded as
/// the API words it: thinking forms, effort levels, forced tool use, prefill, mid-conversation system messages and
/// sampling parameters. The ledger checks its requests with it before sending (so nothing is sent to fail) and the
/// emulator answers with it, so one model's rules are written once. Stateless and thread-safe.
/// </summary>
public static class ModelRules
{
    /// <summary>The first thing the model would refuse in the request, or null when it accepts it.</summary>
    public static Violation? Check(ModelInfo model, ModelRequest request)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(request);
        var thinkingType = ThinkingType(request.Thinking);
        var refusal = thinkingType is null || model.TakesThinking(thinkingType) ? null : thinkingType switch
        {
            _ when model.ThinkingForms.Count == 0 => "thinking: thinking is not supported for this model",
            "enabled" => "\"thinking.type.enabled\" is not supported for this model. Use \"thinking.type.adaptive\" and \"output_config.effort\" to control thinking behavior.",
            "adaptive" => "adaptive thinking is not supported on this model",
            _ => $"\"thinking.type.{thinkingType}\" is not supported for this model. Use {string.Join(" or ", model.ThinkingForms.Select(f => $"\"thinking.type.{f}\""))}.",
        };
        refusal ??= EffortRefusal(model, request.OutputConfig);
        if (request.ToolChoice is { ValueKind: JsonValueKind.Object } choice && choice.TryGetProperty("type", out var type)
            && (type.ValueEquals("any") || type.ValueEquals("tool")))
        {
            refusal ??= !model.SupportsForcedToolUse
                ? "`tool_choice` forcing tool use (`any` or `tool`) is not supported for this model. Use `auto` or `none` and ask for the tool in the prompt."
                : thinkingType == "enabled" ? "Thinking may not be enabled when tool_choice forces tool use." : null; // adaptive thinking takes it
        }
        if (refusal is not null)
        {
            return new Violation(-1, null, ValidationRule.ModelRefuses, refusal);
        }

        for (var i = 0; i < request.Messages.Count; i++)
        {
            if (request.Messages[i].Role == Role.System && !model.SupportsSystemMessages)
            {
                return new Violation(i, null, ValidationRule.ModelRefuses,
                    "messages: Unexpected role \"system\". Allowed roles are \"user\" or \"assistant\". This model takes system instructions in the top-level `system` parameter only.");
            }
        }
        return EndsWithPrefill(request.Messages) && !model.SupportsPrefill
            ? new Violation(request.Messages.Count - 1, null, ValidationRule.ModelRefuses,
                "This model does not support assistant message prefill. The conversation must end with a user message.")
            : null;
    }

    /// <summary>
    /// What the model would refuse of these settings on every request (a thinking form or effort it does not take), or
    /// null: the check a host makes once at start instead of failing on the first turn.
    /// </summary>
    /// <exception cref="ArgumentException">The settings cannot be written for this model (a budget that does not fit max_tokens).</exception>
    public static Violation? CheckSettings(ModelInfo model, ThinkingOptions? thinking, string? effort, int maxTokens)
    {
        ArgumentNullException.ThrowIfNull(model);
        var (thinkingJson, outputConfig) = ThinkingOptions.ForModel(thinking, effort, model, maxTokens);
        return Check(model, new ModelRequest
        {
            Model = model.Id,
            MaxTokens = maxTokens,
            Messages = [Message.User("?")],
            Thinking = thinkingJson,
            OutputConfig = outputConfig,
        });
    }

    /// <summary>
    /// The API's refusal of a sampling parameter (<c>temperature</c>, <c>top_p</c>, <c>top_k</c>) at <paramref name="value"/>, or
    /// null when the model takes it. Models without sampling parameters accept only temperature's default, 1.
    /// </summary>
    public static string? SamplingRefusal(ModelInfo model, string name, double value)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.SupportsSamplingParameters || (name == "temperature" && value == 1.0))
        {
            return null;
        }
        return $"`{name}` is deprecated for this model.";
    }

    /// <summary>The API's answer to a model it no longer serves, or null while it is served on <paramref name="today"/>.</summary>
    public static string? RetiredRefusal(ModelInfo model, string requested, DateOnly today)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model.RetiredOn is { } retired && retired <= today
            ? $"model: {requested} was retired on {retired.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)} and is no longer available. Choose a current model."
            : null;
    }

    /// <summary>Whether the model thinks for this request: thinking asked for, or not turned off on a model that thinks by default.</summary>
    public static bool ThinksOn(ModelInfo model, ModelRequest request)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(request);
        return ThinkingType(request.Thinking) switch
        {
            null => model.ThinksByDefault,
            "disabled" => false,
            _ => true, // adaptive, enabled, between_tools: thinking blocks come back
        };
    }

    /// <summary>The <c>type</c> of a thinking object, or null when there is none.</summary>
    public static string? ThinkingType(JsonElement? thinking) =>
        thinking is { ValueKind: JsonValueKind.Object } t && t.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String
            ? type.GetString()
            : null;

    private static string? EffortRefusal(ModelInfo model, JsonElement? outputConfig)
    {
        if (outputConfig is not { ValueKind: JsonValueKind.Object } config || !config.TryGetProperty("effort", out var effort))
        {
            return null;
        }
        if (model.EffortLevels.Count == 0)
        {
            return "output_config.effort: effort is not supported for this model";
        }
        return effort.ValueKind == JsonValueKind.String && model.EffortLevels.Contains(effort.GetString(), StringComparer.Ordinal)
            ? null
            : $"output_config.effort: Input should be {string.Join(", ", model.EffortLevels.SkipLast(1).Select(l => $"'{l}'"))} or '{model.EffortLevels[^1]}'";
    }

    // The request ends with an assistant message to be continued (system messages after it are instructions, not content).
    private static bool EndsWithPrefill(IReadOnlyList<Message> messages)
    {
        for (var i = messages.Count - 1; i >= 0; i--)
        {
            if (messages[i].Role != Role.System)
            {
                return messages[i].Role == Role.Assistant;
            }
        }
        return false;
    }
}
