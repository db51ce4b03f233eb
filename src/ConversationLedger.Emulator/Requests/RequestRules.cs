namespace ConversationLedger.Emulator;

/// <summary>
/// The checks that need the model table and the conversation rules: unknown model, max_tokens over the
/// model's limit, the core validator's rules (API mode), prefill support and the breakpoint limit.
/// </summary>
public static class RequestRules
{
    /// <summary>The API's limit on cache_control breakpoints in one request.</summary>
    public const int MaxCacheBreakpoints = 4;

    /// <summary>Returns the first problem of a shape-checked request, or null when the API would accept it.</summary>
    /// <param name="parsed">The shape-checked request.</param>
    /// <param name="catalog">The model table.</param>
    /// <param name="kind">Which endpoint the request was sent to.</param>
    /// <param name="verifyThinkingSignatures">Whether thinking blocks the emulator signed must come back with their prompt unchanged.</param>
    /// <param name="model">The model, when the table knows it.</param>
    public static ApiError? Check(ParsedRequest parsed, ModelCatalog catalog, RequestKind kind, bool verifyThinkingSignatures, out ModelInfo? model)
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
        if (kind == RequestKind.Messages && request.MaxTokens > found.MaxOutput)
        {
            return ApiErrors.MaxTokensTooLarge(request.MaxTokens, found.MaxOutput, request.Model);
        }

        // Prefill is allowed by the validator here and checked against the model table just below.
        var violations = ConversationValidator.Validate(request.Messages, new ValidationOptions { AllowPrefill = true });
        if (violations.Count > 0)
        {
            return ApiErrors.FromViolation(violations[0], request.Messages);
        }
        if (kind == RequestKind.Messages && request.Messages[^1].Role == Role.Assistant && !found.SupportsPrefill)
        {
            return ApiErrors.PrefillNotSupported();
        }

        if (parsed.ThinkingEnabled && ThinkingMissingInToolLoop(request.Messages) is { } index)
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

    // With thinking on, a request that answers tool calls continues the last assistant turn, which must open with
    // its thinking block. Returns that assistant message's index when it does not.
    private static int? ThinkingMissingInToolLoop(IReadOnlyList<Message> messages)
    {
        var last = messages.Count - 1;
        if (last < 1 || messages[last].Role != Role.User || !messages[last].Content.Any(b => b.Type == "tool_result"))
        {
            return null;
        }
        var assistant = last - 1;
        var turn = messages[assistant];
        return turn.Role == Role.Assistant && turn.Content.Count > 0 && !turn.Content[0].IsThinking ? assistant : null;
    }
}
