using System.Globalization;

namespace ConversationLedger.Emulator;

/// <summary>
/// The one place that words the emulator's errors the way the Messages API does (see docs/anthropic-api.md's
/// table of messages quoted from public bug reports). Paths follow the API: <c>messages.N.content.K</c>.
/// </summary>
internal static class ApiErrors
{
    /// <summary>The error type of a 400.</summary>
    public const string InvalidRequest = "invalid_request_error";

    /// <summary>A 400 invalid_request_error with the given message.</summary>
    public static ApiError BadRequest(string message) => new(400, InvalidRequest, message);

    /// <summary>401: no key at all.</summary>
    public static ApiError MissingApiKey() => new(401, "authentication_error", "x-api-key header is required");

    /// <summary>401: a key other than the configured one.</summary>
    public static ApiError InvalidApiKey() => new(401, "authentication_error", "invalid x-api-key");

    /// <summary>404: a model the model table does not know.</summary>
    public static ApiError UnknownModel(string model) => new(404, "not_found_error", $"model: {model}");

    /// <summary>404: a path the emulator does not serve.</summary>
    public static ApiError UnknownPath(string method, string path) => new(404, "not_found_error", $"Not Found: {method} {path}");

    /// <summary>413: a body over the size limit.</summary>
    public static ApiError TooLarge(long limitBytes) =>
        new(413, "request_too_large", $"Request exceeds the maximum allowed number of bytes ({limitBytes.ToString(CultureInfo.InvariantCulture)}).");

    /// <summary>429 with the rate limit wording.</summary>
    public static ApiError RateLimited() =>
        new(429, "rate_limit_error", "This request would exceed your organization's rate limit. Please try again later.");

    /// <summary>529: overloaded.</summary>
    public static ApiError Overloaded() => new(529, "overloaded_error", "Overloaded");

    /// <summary>500: internal error.</summary>
    public static ApiError Internal() => new(500, "api_error", "Internal server error");

    /// <summary>400: a required field is missing.</summary>
    public static ApiError FieldRequired(string path) => BadRequest($"{path}: Field required");

    /// <summary>400: a field the endpoint does not take.</summary>
    public static ApiError ExtraInput(string path) => BadRequest($"{path}: Extra inputs are not permitted");

    /// <summary>400: a field of the wrong JSON type (pydantic's wording).</summary>
    public static ApiError WrongType(string path, string expected) => BadRequest($"{path}: Input should be {expected}");

    /// <summary>400: the body is not JSON.</summary>
    public static ApiError InvalidJson(string detail) =>
        BadRequest($"There was an error parsing the body of your HTTP request: invalid JSON ({detail})");

    /// <summary>400: a sampling parameter the 2026-10-21 API no longer takes.</summary>
    public static ApiError SamplingParameterRemoved(string name) =>
        BadRequest($"{name}: Extra inputs are not permitted. `{name}` is not supported with anthropic-version 2026-10-21 and later.");

    /// <summary>400: max_tokens above the model's limit.</summary>
    public static ApiError MaxTokensTooLarge(long requested, long maximum, string model) =>
        BadRequest($"max_tokens: {requested.ToString(CultureInfo.InvariantCulture)} > {maximum.ToString(CultureInfo.InvariantCulture)}, which is the maximum allowed number of output tokens for {model}");

    /// <summary>400: the prompt does not fit in the context window.</summary>
    public static ApiError PromptTooLong(long tokens, long maximum) =>
        BadRequest($"prompt is too long: {tokens.ToString(CultureInfo.InvariantCulture)} tokens > {maximum.ToString(CultureInfo.InvariantCulture)} maximum");

    /// <summary>400: a request ending with an assistant message to a model without prefill.</summary>
    public static ApiError PrefillNotSupported() =>
        BadRequest("This model does not support assistant message prefill. The conversation must end with a user message.");

    /// <summary>400: more than four cache breakpoints.</summary>
    public static ApiError TooManyCacheBreakpoints(int found) =>
        BadRequest($"A maximum of 4 blocks with cache_control may be provided. Found {found.ToString(CultureInfo.InvariantCulture)}.");

    /// <summary>400: thinking is on but the assistant turn being continued (a tool loop) does not start with thinking.</summary>
    public static ApiError ThinkingMissingInFinalAssistant(int messageIndex, string foundType) => BadRequest(
        $"messages.{messageIndex}.content.0.type: Expected `thinking` or `redacted_thinking`, but found `{foundType}`. " +
        "When `thinking` is enabled, a final `assistant` message must start with a thinking block (preceeding the lastmost set of " +
        "`tool_use` and `tool_result` blocks). We recommend you include thinking blocks from previous turns. To avoid this " +
        "requirement, disable `thinking`.");

    /// <summary>400: a thinking block sent back after something before it (or its text) changed.</summary>
    public static ApiError InvalidThinkingSignature(int messageIndex, int blockIndex) =>
        BadRequest($"messages.{messageIndex}.content.{blockIndex}: Invalid `signature` in `thinking` block");

    /// <summary>400: the text of a thinking block in the latest assistant message was edited.</summary>
    public static ApiError ThinkingModified(int messageIndex, int blockIndex) => BadRequest(
        $"messages.{messageIndex}.content.{blockIndex}: `thinking` or `redacted_thinking` blocks in the latest assistant message cannot be modified. " +
        "These blocks must remain as they were in the original response.");

    /// <summary>
    /// The API's wording for one violation found by the core <see cref="ConversationValidator"/> (API mode).
    /// </summary>
    public static ApiError FromViolation(Violation violation, IReadOnlyList<Message> messages)
    {
        ArgumentNullException.ThrowIfNull(violation);
        ArgumentNullException.ThrowIfNull(messages);
        var n = violation.MessageIndex;
        var k = violation.BlockIndex;
        var at = n < 0 ? "messages" : k is null ? $"messages.{n}" : $"messages.{n}.content.{k}";
        return violation.Rule switch
        {
            ValidationRule.NoMessages => BadRequest("messages: at least one message is required"),
            ValidationRule.UnknownRole => BadRequest(
                $"messages: Unexpected role \"{messages[n].Role}\". Allowed roles are \"user\" or \"assistant\"."),
            ValidationRule.EmptyContent => BadRequest(
                $"messages.{n}: all messages must have non-empty content except for the optional final assistant message"),
            ValidationRule.EmptyText => BadRequest("messages: text content blocks must be non-empty"),
            ValidationRule.WhitespaceText => BadRequest("messages: text content blocks must contain non-whitespace text"),
            ValidationRule.ToolUseNotAnswered => ToolUseNotAnswered(n, ConversationValidator.UnansweredToolUses(messages, n)),
            // The API reports a tool_result that is not first as the unanswered tool_use of the assistant turn before it.
            ValidationRule.ToolResultNotFirst when n > 0 => ToolUseNotAnswered(AssistantTurnBefore(messages, n), [messages[n].Content[k!.Value].ToolResultFor ?? ""]),
            ValidationRule.ToolResultWithoutToolUse => BadRequest(
                $"{at}: unexpected `tool_use_id` found in `tool_result` blocks: {messages[n].Content[k!.Value].ToolResultFor}. " +
                "Each `tool_result` block must have a corresponding `tool_use` block in the previous message."),
            ValidationRule.DuplicateToolUseId => BadRequest($"{at}: `tool_use` ids must be unique"),
            ValidationRule.ThinkingNotFirst => BadRequest(
                $"messages.{n}.content.0: If an assistant message contains any thinking blocks, the first block must be " +
                $"`thinking` or `redacted_thinking`. Found `{messages[n].Content[0].Type}`."),
            ValidationRule.ThinkingLast => BadRequest($"messages.{n}: The final block in an assistant message cannot be `thinking`."),
            ValidationRule.ThinkingWithoutSignature => FieldRequired($"{at}.thinking.signature"),
            ValidationRule.PrefillTrailingWhitespace => BadRequest("messages: final assistant content cannot end with trailing whitespace"),
            ValidationRule.CitationsOnUserText => BadRequest($"{at}.citations: citations are not supported on user text blocks"),
            ValidationRule.BlockInWrongRole when k is not null && messages[n].Content[k.Value].Type == "document" =>
                BadRequest($"{at}: `document` blocks are not supported in `assistant` messages"),
            ValidationRule.BlockInWrongRole when k is not null => BadRequest(
                $"{at}: `{messages[n].Content[k.Value].Type}` blocks are not allowed in `{messages[n].Role}` messages"),
            ValidationRule.FinalMessageNotUser => BadRequest($"messages.{n}: the final message must be a `user` message"),
            ValidationRule.SystemMessagePlacement => BadRequest($"messages.{n}: a `system` message must follow a `user` message"),
            _ => BadRequest($"{at}: {StripBlockPrefix(violation.Description)}"),
        };
    }

    private static ApiError ToolUseNotAnswered(int n, IEnumerable<string> ids) => BadRequest(
        $"messages.{n}: `tool_use` ids were found without `tool_result` blocks immediately after: {string.Join(", ", ids)}. " +
        "Each `tool_use` block must have a corresponding `tool_result` block in the next message.");

    // Consecutive user messages are one merged turn to the API; the tool calls are in the message before it.
    private static int AssistantTurnBefore(IReadOnlyList<Message> messages, int n)
    {
        while (n > 1 && messages[n - 1].Role == Role.User)
        {
            n--;
        }
        return n - 1;
    }

    private static string StripBlockPrefix(string description)
    {
        // The validator's descriptions start with "block K: " when one block is at fault; the path says that already.
        var colon = description.IndexOf(": ", StringComparison.Ordinal);
        return description.StartsWith("block ", StringComparison.Ordinal) && colon > 0 ? description[(colon + 2)..] : description;
    }
}
