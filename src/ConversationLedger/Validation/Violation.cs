namespace ConversationLedger;

/// <summary>The rules the validator knows. Each has a failing and a passing unit test.</summary>
public enum ValidationRule
{
    /// <summary>A request needs at least one message.</summary>
    NoMessages,
    /// <summary>Roles are user, assistant and (mid-conversation) system.</summary>
    UnknownRole,
    /// <summary>Every message needs content, except an optional final assistant prefill.</summary>
    EmptyContent,
    /// <summary>Text blocks must not be empty.</summary>
    EmptyText,
    /// <summary>Text blocks must contain non-whitespace text.</summary>
    WhitespaceText,
    /// <summary>Each tool_use must be answered by a tool_result in the next message.</summary>
    ToolUseNotAnswered,
    /// <summary>Each tool_result must answer a tool_use of the previous message.</summary>
    ToolResultWithoutToolUse,
    /// <summary>tool_result blocks come before any other content of their message.</summary>
    ToolResultNotFirst,
    /// <summary>tool_use ids are unique within a conversation.</summary>
    DuplicateToolUseId,
    /// <summary>A block is in a message of the wrong role (tool_use/thinking in user messages, tool_result in assistant messages, documents in assistant messages).</summary>
    BlockInWrongRole,
    /// <summary>A block lacks a field the API requires (tool_use id/name, tool_result tool_use_id, text).</summary>
    MissingField,
    /// <summary>An assistant message with thinking must start with it.</summary>
    ThinkingNotFirst,
    /// <summary>An assistant message cannot end with a thinking block.</summary>
    ThinkingLast,
    /// <summary>A thinking block must carry its signature.</summary>
    ThinkingWithoutSignature,
    /// <summary>User text blocks cannot carry citations (API 2026-10-21).</summary>
    CitationsOnUserText,
    /// <summary>A request ends with a user message unless prefill is asked for.</summary>
    FinalMessageNotUser,
    /// <summary>A prefilled final assistant message cannot end with whitespace.</summary>
    PrefillTrailingWhitespace,
    /// <summary>A mid-conversation system message cannot be the first message.</summary>
    SystemMessagePlacement,
    /// <summary>Strict: the first message is a user message.</summary>
    FirstMessageNotUser,
    /// <summary>Strict: user and assistant alternate.</summary>
    RolesNotAlternating,
    /// <summary>The chosen model refuses what the request asks for (see <see cref="ModelRules"/>); the description is the API's wording.</summary>
    ModelRefuses,
}

/// <summary>One broken rule, with the index of the message (0-based, as the API counts) and the rule in plain words.</summary>
/// <param name="MessageIndex">The 0-based index of the message; -1 for the conversation as a whole.</param>
/// <param name="BlockIndex">The 0-based index of the content block, when one block is at fault.</param>
/// <param name="Rule">The rule broken.</param>
/// <param name="Description">The problem in plain words.</param>
public sealed record Violation(int MessageIndex, int? BlockIndex, ValidationRule Rule, string Description)
{
    /// <inheritdoc />
    public override string ToString() => Rule == ValidationRule.ModelRefuses ? Description
        : MessageIndex < 0 ? $"messages: {Description}" : $"message {MessageIndex}: {Description}";
}
