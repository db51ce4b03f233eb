namespace ConversationLedger;

/// <summary>Which rules to apply.</summary>
public enum ValidationMode
{
    /// <summary>What the live API accepts (consecutive same-role turns are merged by the API, so allowed).</summary>
    Api,

    /// <summary>The API's rules plus the guide's: user, assistant, user … starting with user, no system messages.</summary>
    Strict,
}

/// <summary>How to validate a list of messages.</summary>
public sealed record ValidationOptions
{
    /// <summary>API rules or strict alternation. <value>The default value is <see cref="ValidationMode.Api"/>.</value></summary>
    public ValidationMode Mode { get; init; } = ValidationMode.Api;

    /// <summary>
    /// True for a request about to be sent (it must end with a user message unless prefill is allowed);
    /// false for a stored history, which holds complete turns and may end with the assistant.
    /// <value>The default value is true.</value>
    /// </summary>
    public bool IsRequest { get; init; } = true;

    /// <summary>Whether a request may end with a partial assistant message. <value>The default value is false.</value></summary>
    public bool AllowPrefill { get; init; }

    /// <summary>A request about to be sent, under the API's rules.</summary>
    public static ValidationOptions ApiRequest { get; } = new();

    /// <summary>A request about to be sent, under strict alternation.</summary>
    public static ValidationOptions StrictRequest { get; } = new() { Mode = ValidationMode.Strict };

    /// <summary>A stored history (complete turns), under strict alternation.</summary>
    public static ValidationOptions StrictHistory { get; } = new() { Mode = ValidationMode.Strict, IsRequest = false };
}

/// <summary>
/// Checks a conversation against the Messages API's rules (and, in strict mode, the guide's alternation)
/// and reports every violation with its message index and the rule in plain words. Stateless and thread-safe.
/// </summary>
public static class ConversationValidator
{
    /// <summary>Every violation, in message order; empty when the conversation is valid.</summary>
    public static IReadOnlyList<Violation> Validate(IReadOnlyList<Message> messages, ValidationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        options ??= ValidationOptions.ApiRequest;
        var found = new List<Violation>();
        if (messages.Count == 0)
        {
            if (options.IsRequest)
            {
                found.Add(new Violation(-1, null, ValidationRule.NoMessages, "at least one message is required"));
            }
            return found;
        }

        var strict = options.Mode == ValidationMode.Strict;
        var seenToolUseIds = new HashSet<string>(StringComparer.Ordinal);
        var userTurnHasOther = false;
        for (var i = 0; i < messages.Count; i++)
        {
            var message = messages[i];
            var isLast = i == messages.Count - 1;
            var role = message.Role;
            if (!role.IsKnown)
            {
                found.Add(new Violation(i, null, ValidationRule.UnknownRole,
                    $"role \"{Excerpt.Of(role.ToString())}\" is not one the API knows (\"user\", \"assistant\" or \"system\")"));
                continue;
            }

            var prefillSlot = options.IsRequest && options.AllowPrefill && isLast && role == Role.Assistant;
            if (message.Content.Count == 0 && !prefillSlot)
            {
                found.Add(new Violation(i, null, ValidationRule.EmptyContent,
                    "has no content; only an optional final assistant message may be empty"));
            }

            // The API merges consecutive user messages, so tool_result blocks must lead the merged turn, not each message.
            var afterOtherUserContent = role == Role.User && i > 0 && messages[i - 1].Role == Role.User && userTurnHasOther;
            userTurnHasOther = role == Role.User && (afterOtherUserContent || message.Content.Any(b => b.Type != "tool_result"));
            CheckBlocks(i, message, afterOtherUserContent, seenToolUseIds, found);
            CheckToolPairing(messages, i, found);

            if (role == Role.System && i == 0)
            {
                found.Add(new Violation(i, null, ValidationRule.SystemMessagePlacement,
                    "a system message cannot be the first message; put the opening instructions in the top-level system prompt"));
            }

            if (strict)
            {
                if (i == 0 && role != Role.User)
                {
                    found.Add(new Violation(i, null, ValidationRule.FirstMessageNotUser,
                        $"the first message must be a user message, found {role}"));
                }
                else if (i > 0 && (role == messages[i - 1].Role || role == Role.System))
                {
                    found.Add(new Violation(i, null, ValidationRule.RolesNotAlternating, role == Role.System
                        ? "strict alternation has no system messages; set the system prompt instead"
                        : $"two {role} messages in a row (messages {i - 1} and {i}); user and assistant must alternate"));
                }
            }
        }

        if (options.IsRequest)
        {
            CheckEnding(messages, options, found);
        }
        return found;
    }

    /// <summary>Throws when the conversation breaks any rule.</summary>
    /// <exception cref="LedgerValidationException">One or more rules are broken; the exception lists them all.</exception>
    public static void ThrowIfInvalid(IReadOnlyList<Message> messages, ValidationOptions? options = null)
    {
        var violations = Validate(messages, options);
        if (violations.Count > 0)
        {
            throw new LedgerValidationException(violations);
        }
    }

    private static void CheckBlocks(int i, Message message, bool afterOtherUserContent, HashSet<string> seenToolUseIds, List<Violation> found)
    {
        var isUser = message.Role == Role.User;
        var isAssistant = message.Role == Role.Assistant;
        var sawThinking = false;
        var sawOther = false;
        var sawNonToolResult = afterOtherUserContent;
        for (var k = 0; k < message.Content.Count; k++)
        {
            var block = message.Content[k];
            switch (block.Type)
            {
                case "text":
                    var text = block.Text;
                    if (text is null)
                    {
                        found.Add(new Violation(i, k, ValidationRule.MissingField, $"block {k}: text block has no \"text\""));
                    }
                    else if (text.Length == 0)
                    {
                        found.Add(new Violation(i, k, ValidationRule.EmptyText, $"block {k}: text blocks must not be empty"));
                    }
                    else if (string.IsNullOrWhiteSpace(text))
                    {
                        found.Add(new Violation(i, k, ValidationRule.WhitespaceText, $"block {k}: text blocks must contain non-whitespace text"));
                    }
                    if (isUser && block.Element.TryGetProperty("citations", out var citations)
                        && citations.ValueKind == System.Text.Json.JsonValueKind.Array && citations.GetArrayLength() > 0)
                    {
                        found.Add(new Violation(i, k, ValidationRule.CitationsOnUserText, $"block {k}: user text blocks cannot carry citations"));
                    }
                    break;
                case "tool_use":
                    var use = block.ToolUse!;
                    if (use.Id.Length == 0 || use.Name.Length == 0)
                    {
                        found.Add(new Violation(i, k, ValidationRule.MissingField, $"block {k}: tool_use block needs an \"id\" and a \"name\""));
                    }
                    else if (!seenToolUseIds.Add(use.Id))
                    {
                        found.Add(new Violation(i, k, ValidationRule.DuplicateToolUseId, $"block {k}: tool_use id {use.Id} is used more than once"));
                    }
                    if (!isAssistant)
                    {
                        found.Add(new Violation(i, k, ValidationRule.BlockInWrongRole, $"block {k}: tool_use blocks belong in assistant messages"));
                    }
                    break;
                case "tool_result":
                    if (string.IsNullOrEmpty(block.ToolResultFor))
                    {
                        found.Add(new Violation(i, k, ValidationRule.MissingField, $"block {k}: tool_result block needs a \"tool_use_id\""));
                    }
                    if (!isUser)
                    {
                        found.Add(new Violation(i, k, ValidationRule.BlockInWrongRole, $"block {k}: tool_result blocks belong in user messages"));
                    }
                    else if (sawNonToolResult)
                    {
                        found.Add(new Violation(i, k, ValidationRule.ToolResultNotFirst,
                            $"block {k}: tool_result for {block.ToolResultFor} must come before any other content of the message"));
                    }
                    break;
                case "thinking" or "redacted_thinking":
                    if (!isAssistant)
                    {
                        found.Add(new Violation(i, k, ValidationRule.BlockInWrongRole, $"block {k}: {block.Type} blocks belong in assistant messages"));
                    }
                    else if (sawOther && !sawThinking)
                    {
                        found.Add(new Violation(i, k, ValidationRule.ThinkingNotFirst,
                            $"block {k}: an assistant message with thinking must start with it, found {message.Content[0].Type} first"));
                    }
                    if (block.Type == "thinking" && string.IsNullOrEmpty(block.Thinking!.Signature))
                    {
                        found.Add(new Violation(i, k, ValidationRule.ThinkingWithoutSignature, $"block {k}: thinking block has no signature"));
                    }
                    else if (block.Type == "redacted_thinking" && !block.Element.TryGetProperty("data", out _))
                    {
                        found.Add(new Violation(i, k, ValidationRule.MissingField, $"block {k}: redacted_thinking block needs its \"data\""));
                    }
                    sawThinking = true;
                    break;
                case "document" when isAssistant:
                    found.Add(new Violation(i, k, ValidationRule.BlockInWrongRole, $"block {k}: document blocks are not accepted in assistant messages"));
                    break;
            }
            if (!block.IsThinking)
            {
                sawOther = true;
            }
            if (block.Type != "tool_result")
            {
                sawNonToolResult = true;
            }
        }
        if (isAssistant && message.Content.Count > 0 && message.Content[^1].IsThinking)
        {
            found.Add(new Violation(i, message.Content.Count - 1, ValidationRule.ThinkingLast,
                "an assistant message cannot end with a thinking block"));
        }
    }

    private static void CheckToolPairing(IReadOnlyList<Message> messages, int i, List<Violation> found)
    {
        var message = messages[i];
        if (message.Role == Role.Assistant)
        {
            if (!message.Content.Any(b => !string.IsNullOrEmpty(ClientToolUseId(b))) || RunEnd(messages, i) == messages.Count - 1)
            {
                // A stored history may end waiting for tool results; a request may not (checked by its ending).
                return;
            }
            var missing = UnansweredToolUses(messages, i);
            if (missing.Count > 0)
            {
                found.Add(new Violation(i, null, ValidationRule.ToolUseNotAnswered,
                    $"tool_use {string.Join(", ", missing)} has no tool_result in message {RunEnd(messages, i) + 1}; each tool_use must be answered in the next message"));
            }
        }
        else if (message.Role == Role.User && message.Content.Any(b => b.ToolResultFor is not null))
        {
            var previousUses = TurnBefore(messages, i) is { } previous && messages[previous].Role == Role.Assistant
                ? RunMessages(messages, previous).SelectMany(m => m.Content).Select(ClientToolUseId).Where(id => id is not null).ToHashSet(StringComparer.Ordinal)
                : [];
            for (var k = 0; k < message.Content.Count; k++)
            {
                var id = message.Content[k].ToolResultFor;
                if (!string.IsNullOrEmpty(id) && !previousUses.Contains(id))
                {
                    found.Add(new Violation(i, k, ValidationRule.ToolResultWithoutToolUse,
                        i == 0 ? $"tool_result for {id} has no tool_use before it"
                               : $"tool_result for {id} has no tool_use in message {i - 1}"));
                }
            }
        }
    }

    /// <summary>
    /// The client tool_use ids of message <paramref name="index"/> that no tool_result of the next turn answers. The API
    /// merges consecutive messages of one role, so that turn is every user message after this run of assistant messages.
    /// </summary>
    public static IReadOnlyList<string> UnansweredToolUses(IReadOnlyList<Message> messages, int index)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var next = RunEnd(messages, index) + 1;
        var answered = next < messages.Count && messages[next].Role == Role.User
            ? RunMessages(messages, next).SelectMany(m => m.Content).Select(b => b.ToolResultFor).Where(id => id is not null).ToHashSet(StringComparer.Ordinal)
            : [];
        return messages[index].Content.Select(ClientToolUseId).Where(id => !string.IsNullOrEmpty(id) && !answered.Contains(id)).Select(id => id!).ToList();
    }

    // The last index of the run of same-role messages that holds message i.
    private static int RunEnd(IReadOnlyList<Message> messages, int i)
    {
        while (i + 1 < messages.Count && messages[i + 1].Role == messages[i].Role)
        {
            i++;
        }
        return i;
    }

    // The last message of the run before the run that holds message i; null for the first run.
    private static int? TurnBefore(IReadOnlyList<Message> messages, int i)
    {
        while (i > 0 && messages[i - 1].Role == messages[i].Role)
        {
            i--;
        }
        return i > 0 ? i - 1 : null;
    }

    // The last message with a client tool_use in the final run of messages (one merged turn to the API); null when none.
    private static int? LastToolUseOfFinalTurn(IReadOnlyList<Message> messages)
    {
        for (var n = messages.Count - 1; n >= 0 && messages[n].Role == messages[^1].Role; n--)
        {
            if (messages[n].Content.Any(b => !string.IsNullOrEmpty(ClientToolUseId(b))))
            {
                return n;
            }
        }
        return null;
    }

    // The messages of the run that ends at (or holds) message i, in order.
    private static IEnumerable<Message> RunMessages(IReadOnlyList<Message> messages, int i)
    {
        var end = RunEnd(messages, i);
        var start = end;
        while (start > 0 && messages[start - 1].Role == messages[end].Role)
        {
            start--;
        }
        return messages.Skip(start).Take(end - start + 1);
    }

    /// <summary>
    /// The id of a client tool_use, the only kind a tool_result answers; null for other blocks. A server_tool_use
    /// gets its result from the server in the same assistant message, so it is never paired with a tool_result.
    /// </summary>
    private static string? ClientToolUseId(ContentBlock block) => block.Type == "tool_use" ? block.ToolUse!.Id : null;

    private static void CheckEnding(IReadOnlyList<Message> messages, ValidationOptions options, List<Violation> found)
    {
        // System messages after the last turn are instructions, not content: the ending is the message before them.
        var last = messages.Count - 1;
        while (last > 0 && messages[last].Role == Role.System)
        {
            last--;
        }
        var final = messages[last];
        if (final.Role == Role.Assistant)
        {
            if (!options.AllowPrefill)
            {
                found.Add(new Violation(last, null, ValidationRule.FinalMessageNotUser,
                    "a request must end with a user message (prefill is not enabled)"));
            }
            else if (final.Content.Count > 0 && final.Content[^1].Text is { } text && text.Length > 0 && char.IsWhiteSpace(text[^1]))
            {
                found.Add(new Violation(last, final.Content.Count - 1, ValidationRule.PrefillTrailingWhitespace,
                    "a prefilled final assistant message cannot end with whitespace"));
            }
            else if (LastToolUseOfFinalTurn(messages) is { } withToolUse)
            {
                // CheckToolPairing lets a final tool_use pass because a stored history may wait for its result;
                // a request may not, and with prefill on, the ending check above does not catch it either.
                found.Add(new Violation(withToolUse, null, ValidationRule.ToolUseNotAnswered,
                    $"tool_use {string.Join(", ", UnansweredToolUses(messages, withToolUse))} has no tool_result after it; a prefilled request cannot end with a tool_use"));
            }
        }
    }
}
