namespace ConversationLedger.Emulator;

/// <summary>
/// The checks that need the model table and the conversation rules: unknown and retired models, max_tokens over the
/// model's limit, the core validator's rules (API mode), what the model refuses (<see cref="ModelRules"/>: thinking forms,
/// effort, forced tool use, prefill, system messages, sampling parameters), thinking signatures and the breakpoint limit.
/// </summary>
internal static class RequestRules
{
    /// <summary>The API's limit on cache_control breakpoints in one request.</summary>
    public const int MaxCacheBreakpoints = 4;

    /// <summary>Returns the first problem of a shape-checked request, or null when the API would accept it.</summary>
    /// <param name="parsed">The shape-checked request.</param>
    /// <param name="catalog">The model table.</param>
    /// <param name="kind">Which endpoint the request was sent to.</param>
    /// <param name="verifyThinkingSignatures">Whether thinking blocks the emulator signed must come back with their prompt unchanged.</param>
    /// <param name="model">The model, when the table knows it.</param>
    /// <param name="today">The day, for models the API has retired (null: they are still served).</param>
    public static ApiError? Check(ParsedRequest parsed, ModelCatalog catalog, RequestKind kind, bool verifyThinkingSignatures, out ModelInfo? model,
        DateOnly? today = null)
    {
        ArgumentNullException.ThrowIfNull(parsed);
        ArgumentNullException.ThrowIfNull(catalog);
        var request = parsed.Request;
        if (!catalog.TryGet(request.Model, out var found))
        {
            model = null;
            return ApiErrors.UnknownModel(request.Model);
        }
        model = found;
        if (today is { } day && ModelRules.RetiredRefusal(found, request.Model, day) is { } retired)
        {
            return new ApiError(404, "not_found_error", retired);
        }
        if (kind == RequestKind.Messages && request.MaxTokens > found.MaxOutput)
        {
            return ApiErrors.MaxTokensTooLarge(request.MaxTokens, found.MaxOutput, request.Model);
        }

        // Prefill is allowed by the validator here and checked against the model table by ModelRules.
        var violations = ConversationValidator.Validate(request.Messages, new ValidationOptions { AllowPrefill = true });
        if (violations.Count > 0)
        {
            return ApiErrors.FromViolation(violations[0], request.Messages);
        }
        if (ModelRules.Check(found, kind == RequestKind.Messages ? request : request with { Messages = WithoutPrefill(request.Messages) }) is { } refusal)
        {
            return ApiErrors.BadRequest(refusal.Description);
        }
        foreach (var (name, value) in parsed.Sampling)
        {
            if (ModelRules.SamplingRefusal(found, name, value) is { } samplingRefusal)
            {
                return ApiErrors.BadRequest(samplingRefusal);
            }
        }
        if (ToolChoiceProblem(parsed) is { } toolChoiceError)
        {
            return toolChoiceError;
        }

        if (ThinksFirst(parsed, found) && ThinkingMissingInToolLoop(request.Messages) is { } index)
        {
            return ApiErrors.ThinkingMissingInFinalAssistant(index, request.Messages[index].Content[0].Type);
        }

        if (verifyThinkingSignatures && ThinkingSignatures.Verify(parsed) is { } signatureError)
        {
            return signatureError;
        }

        var breakpoints = PromptLayout.CountBreakpoints(parsed);
        return breakpoints > MaxCacheBreakpoints ? ApiErrors.TooManyCacheBreakpoints(breakpoints) : null;
    }

    /// <summary>Whether the model's replies to this request open with a thinking block (between_tools thinks only after a tool result).</summary>
    public static bool ThinksFirst(ParsedRequest parsed, ModelInfo model)
    {
        ArgumentNullException.ThrowIfNull(parsed);
        return ModelRules.ThinksOn(model, parsed.Request) && parsed.ThinkingType != "between_tools";
    }

    // count_tokens counts a conversation ending in an assistant message without asking the model to continue it.
    private static IReadOnlyList<Message> WithoutPrefill(IReadOnlyList<Message> messages) =>
        messages.Count > 1 && messages[^1].Role == Role.Assistant ? messages.Take(messages.Count - 1).ToArray() : messages;

    // A tool_choice that names a tool must name one the request defines.
    private static ApiError? ToolChoiceProblem(ParsedRequest parsed)
    {
        if (parsed.Request.ToolChoice is not { } choice || !choice.TryGetProperty("type", out var type) || !type.ValueEquals("tool"))
        {
            return null;
        }
        if (!choice.TryGetProperty("name", out var name) || name.ValueKind != System.Text.Json.JsonValueKind.String)
        {
            return ApiErrors.FieldRequired("tool_choice.tool.name");
        }
        var wanted = name.GetString();
        return parsed.Tools.Any(t => t.TryGetProperty("name", out var n) && n.ValueKind == System.Text.Json.JsonValueKind.String && n.GetString() == wanted)
            ? null
            : ApiErrors.BadRequest($"tool_choice.name: Tool '{wanted}' not found in the request's tools");
    }

    // With thinking on, a request that answers tool calls continues the last assistant turn, which must open with
    // its thinking block. Returns that assistant message's index when it does not.
    private static int? ThinkingMissingInToolLoop(IReadOnlyList<Message> messages)
    {
        var last = messages.Count - 1;
        while (last > 0 && messages[last].Role == Role.System)
        {
            last--; // instructions after the tool results do not change which turn is continued
        }
        if (last < 1 || messages[last].Role != Role.User || !messages[last].Content.Any(b => b.Type == "tool_result"))
        {
            return null;
        }
        var assistant = last - 1;
        var turn = messages[assistant];
        return turn.Role == Role.Assistant && turn.Content.Count > 0 && !turn.Content[0].IsThinking ? assistant : null;
    }
}
