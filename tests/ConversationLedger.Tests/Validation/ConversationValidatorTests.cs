using ConversationLedger.Tests.TestSupport;
using static ConversationLedger.Tests.TestSupport.Build;

namespace ConversationLedger.Tests.Validation;

public sealed class ConversationValidatorTests
{
    private static readonly ValidationOptions ApiRequest = ValidationOptions.ApiRequest;
    private static readonly ValidationOptions StrictRequest = ValidationOptions.StrictRequest;
    private static readonly ValidationOptions Prefill = new() { AllowPrefill = true };

    private const string Document = """{"type":"document","source":{"type":"text","media_type":"text/plain","data":"The report."}}""";

    /// <summary>A conversation that breaks exactly one rule, and what the validator must say about it.</summary>
    private sealed record Failing(Message[] Messages, ValidationOptions Options, int MessageIndex, int? BlockIndex, string Says);

    /// <summary>The closest conversation that keeps the rule.</summary>
    private sealed record Passing(Message[] Messages, ValidationOptions Options);

    private static readonly Dictionary<ValidationRule, (Failing Fails, Passing Passes)> Examples = new()
    {
        [ValidationRule.NoMessages] = (
            new([], ApiRequest, -1, null, "messages: at least one message is required"),
            new([User("Hello")], ApiRequest)),
        [ValidationRule.UnknownRole] = (
            new([User("What is the weather?"), new Message(new Role("tool"), [Text("12°C")]), User("Thanks")], ApiRequest, 1, null,
                "message 1: role \"tool\" is not one the API knows (\"user\", \"assistant\" or \"system\")"),
            new([User("What is the weather?"), Assistant("12°C"), User("Thanks")], ApiRequest)),
        [ValidationRule.EmptyContent] = (
            new([User("Question"), new Message(Role.Assistant, []), User("Again")], ApiRequest, 1, null,
                "message 1: has no content; only an optional final assistant message may be empty"),
            new([User("Question"), new Message(Role.Assistant, [])], Prefill)),
        [ValidationRule.EmptyText] = (
            new([User("")], ApiRequest, 0, 0, "message 0: block 0: text blocks must not be empty"),
            new([User("x")], ApiRequest)),
        [ValidationRule.WhitespaceText] = (
            new([User("Question"), Assistant(" \n\t"), User("Again")], ApiRequest, 1, 0,
                "message 1: block 0: text blocks must contain non-whitespace text"),
            new([User("Question"), Assistant(" an answer "), User("Again")], ApiRequest)),
        [ValidationRule.ToolUseNotAnswered] = (
            new([User("Weather?"), Assistant(ToolUse("toolu_01")), User("Thanks")], ApiRequest, 1, null,
                "message 1: tool_use toolu_01 has no tool_result in message 2; each tool_use must be answered in the next message"),
            new([User("Weather?"), Assistant(ToolUse("toolu_01")), User(ToolResult("toolu_01"))], ApiRequest)),
        [ValidationRule.ToolResultWithoutToolUse] = (
            new([User("Hi"), Assistant("Hello"), User("Weather?"), Assistant("No tools today."), User(ToolResult("toolu_01"))], ApiRequest, 4, 0,
                "message 4: tool_result for toolu_01 has no tool_use in message 3"),
            new([User("Hi"), Assistant("Hello"), User("Weather?"), Assistant(ToolUse("toolu_01")), User(ToolResult("toolu_01"))], ApiRequest)),
        [ValidationRule.ToolResultNotFirst] = (
            new([User("Weather?"), Assistant(ToolUse("toolu_01")), User(Text("Here it is:"), ToolResult("toolu_01"))], ApiRequest, 2, 1,
                "message 2: block 1: tool_result for toolu_01 must come before any other content of the message"),
            new([User("Weather?"), Assistant(ToolUse("toolu_01")), User(ToolResult("toolu_01"), Text("Here it is."))], ApiRequest)),
        [ValidationRule.DuplicateToolUseId] = (
            new([User("Weather?"), Assistant(ToolUse("toolu_01")), User(ToolResult("toolu_01")),
                 Assistant(ToolUse("toolu_01")), User(ToolResult("toolu_01"))], ApiRequest, 3, 0,
                "message 3: block 0: tool_use id toolu_01 is used more than once"),
            new([User("Weather?"), Assistant(ToolUse("toolu_01")), User(ToolResult("toolu_01")),
                 Assistant(ToolUse("toolu_02")), User(ToolResult("toolu_02"))], ApiRequest)),
        [ValidationRule.BlockInWrongRole] = (
            new([User("Summarize"), Assistant(Raw(Document)), User("Thanks")], ApiRequest, 1, 0,
                "message 1: block 0: document blocks are not accepted in assistant messages"),
            new([User(Raw(Document), Text("Summarize"))], ApiRequest)),
        [ValidationRule.MissingField] = (
            new([User(Raw("""{"type":"text"}"""))], ApiRequest, 0, 0, "message 0: block 0: text block has no \"text\""),
            new([User(Raw("""{"type":"text","text":"Hi"}"""))], ApiRequest)),
        [ValidationRule.ThinkingNotFirst] = (
            new([User("Why?"), Assistant(Text("Because"), Thinking(), Text("so.")), User("Ok")], ApiRequest, 1, 1,
                "message 1: block 1: an assistant message with thinking must start with it, found text first"),
            new([User("Why?"), Assistant(Thinking(), Text("Because.")), User("Ok")], ApiRequest)),
        [ValidationRule.ThinkingLast] = (
            new([User("Why?"), Assistant(Thinking()), User("Ok")], ApiRequest, 1, 0,
                "message 1: an assistant message cannot end with a thinking block"),
            new([User("Why?"), Assistant(Thinking(), Text("Because.")), User("Ok")], ApiRequest)),
        [ValidationRule.ThinkingWithoutSignature] = (
            new([User("Why?"), Assistant(Raw("""{"type":"thinking","thinking":"hmm"}"""), Text("Because.")), User("Ok")], ApiRequest, 1, 0,
                "message 1: block 0: thinking block has no signature"),
            new([User("Why?"), Assistant(Raw("""{"type":"thinking","thinking":"hmm","signature":"c2ln"}"""), Text("Because.")), User("Ok")], ApiRequest)),
        [ValidationRule.CitationsOnUserText] = (
            new([User(Raw("""{"type":"text","text":"Quote","citations":[{"type":"char_location","cited_text":"a","document_index":0,"start_char_index":0,"end_char_index":1}]}"""))],
                ApiRequest, 0, 0, "message 0: block 0: user text blocks cannot carry citations"),
            new([User(Raw("""{"type":"text","text":"Quote","citations":[]}"""))], ApiRequest)),
        [ValidationRule.FinalMessageNotUser] = (
            new([User("Answer in JSON"), Assistant("{")], ApiRequest, 1, null,
                "message 1: a request must end with a user message (prefill is not enabled)"),
            new([User("Answer in JSON"), Assistant("{")], Prefill)),
        [ValidationRule.PrefillTrailingWhitespace] = (
            new([User("Finish the sentence"), Assistant("The answer is ")], Prefill, 1, 0,
                "message 1: a prefilled final assistant message cannot end with whitespace"),
            new([User("Finish the sentence"), Assistant("The answer is")], Prefill)),
        [ValidationRule.SystemMessagePlacement] = (
            new([SystemMessage("Be brief."), User("Hi")], ApiRequest, 0, null,
                "message 0: a system message cannot be the first message; put the opening instructions in the top-level system prompt"),
            new([User("Hi"), Assistant("Hello"), SystemMessage("Be brief."), User("Tell me more")], ApiRequest)),
        [ValidationRule.FirstMessageNotUser] = (
            new([Assistant("Hello, how can I help?"), User("Weather?")], StrictRequest, 0, null,
                "message 0: the first message must be a user message, found assistant"),
            new([User("Hi"), Assistant("Hello, how can I help?"), User("Weather?")], StrictRequest)),
        [ValidationRule.RolesNotAlternating] = (
            new([User("Hi"), User("Are you there?")], StrictRequest, 1, null,
                "message 1: two user messages in a row (messages 0 and 1); user and assistant must alternate"),
            new([User("Hi"), Assistant("Yes."), User("Are you there?")], StrictRequest)),
    };

    // What a model refuses is ModelRules' to say (ModelRulesTests), not the conversation validator's.
    private static IEnumerable<ValidationRule> ConversationRules() => Enum.GetValues<ValidationRule>().Where(r => r != ValidationRule.ModelRefuses);

    public static TheoryData<ValidationRule> Rules() => new(ConversationRules());

    [Fact]
    public void Every_rule_has_a_failing_and_a_passing_example()
    {
        Assert.Equal(ConversationRules().Order(), Examples.Keys.Order());
    }

    [Theory]
    [MemberData(nameof(Rules))]
    public void Validate_reports_the_rule_the_message_index_and_plain_words_for_the_failing_example(ValidationRule rule)
    {
        // Given a conversation that breaks exactly this rule
        var (fails, _) = Examples[rule];

        // When it is validated
        var violations = ConversationValidator.Validate(fails.Messages, fails.Options);

        // Then exactly that rule is reported, where it is broken, in plain words
        var violation = Assert.Single(violations);
        Assert.Equal(rule, violation.Rule);
        Assert.Equal(fails.MessageIndex, violation.MessageIndex);
        Assert.Equal(fails.BlockIndex, violation.BlockIndex);
        Assert.Equal(fails.Says, violation.ToString());
    }

    [Theory]
    [MemberData(nameof(Rules))]
    public void Validate_accepts_the_passing_example(ValidationRule rule)
    {
        var (_, passes) = Examples[rule];

        var violations = ConversationValidator.Validate(passes.Messages, passes.Options);

        Assert.Empty(violations);
    }

    [Fact]
    public void Api_mode_accepts_consecutive_user_messages_because_the_api_merges_them()
    {
        Message[] messages = [User("Hi"), User("Are you there?")];

        Assert.Empty(ConversationValidator.Validate(messages, ApiRequest));
    }

    [Fact]
    public void Strict_mode_rejects_consecutive_assistant_messages()
    {
        Message[] messages = [User("Hi"), Assistant("Hello"), Assistant("Still here"), User("Ok")];

        var violation = Assert.Single(ConversationValidator.Validate(messages, StrictRequest));

        Assert.Equal(ValidationRule.RolesNotAlternating, violation.Rule);
        Assert.Equal("message 2: two assistant messages in a row (messages 1 and 2); user and assistant must alternate", violation.ToString());
    }

    [Fact]
    public void Api_mode_accepts_a_conversation_that_starts_with_the_assistant()
    {
        Message[] messages = [Assistant("Hello, how can I help?"), User("Weather?")];

        Assert.Empty(ConversationValidator.Validate(messages, ApiRequest));
    }

    [Fact]
    public void Api_mode_accepts_a_system_message_after_a_user_message_that_strict_mode_rejects()
    {
        Message[] messages = [User("Hi"), SystemMessage("Be brief."), Assistant("Hello"), User("More")];

        Assert.Empty(ConversationValidator.Validate(messages, ApiRequest));
        var violation = Assert.Single(ConversationValidator.Validate(messages, StrictRequest));
        Assert.Equal(ValidationRule.RolesNotAlternating, violation.Rule);
        Assert.Equal("message 1: strict alternation has no system messages; set the system prompt instead", violation.ToString());
    }

    [Fact]
    public void A_history_may_end_with_the_assistant_but_a_request_may_not()
    {
        Message[] messages = [User("Hi"), Assistant("Hello")];

        Assert.Empty(ConversationValidator.Validate(messages, ValidationOptions.StrictHistory));
        var violation = Assert.Single(ConversationValidator.Validate(messages, StrictRequest));
        Assert.Equal(ValidationRule.FinalMessageNotUser, violation.Rule);
        Assert.Equal(1, violation.MessageIndex);
    }

    [Fact]
    public void An_empty_history_is_valid_but_an_empty_request_is_not()
    {
        Assert.Empty(ConversationValidator.Validate([], ValidationOptions.StrictHistory));
        Assert.Equal(ValidationRule.NoMessages, Assert.Single(ConversationValidator.Validate([], StrictRequest)).Rule);
    }

    [Fact]
    public void A_history_may_end_waiting_for_a_tool_result()
    {
        Message[] messages = [User("Weather?"), Assistant(ToolUse("toolu_01"))];

        Assert.Empty(ConversationValidator.Validate(messages, ValidationOptions.StrictHistory));
    }

    [Fact]
    public void A_request_ending_with_an_empty_assistant_message_needs_prefill()
    {
        Message[] messages = [User("Question"), new Message(Role.Assistant, [])];

        var violations = ConversationValidator.Validate(messages, ApiRequest);

        Assert.Equal([ValidationRule.EmptyContent, ValidationRule.FinalMessageNotUser], violations.Select(v => v.Rule));
        Assert.All(violations, v => Assert.Equal(1, v.MessageIndex));
    }

    [Fact]
    public void An_empty_final_assistant_message_is_not_a_prefill_slot_in_a_history()
    {
        Message[] messages = [User("Question"), new Message(Role.Assistant, [])];

        var violation = Assert.Single(ConversationValidator.Validate(messages, ValidationOptions.StrictHistory with { AllowPrefill = true }));

        Assert.Equal(ValidationRule.EmptyContent, violation.Rule);
    }

    [Fact]
    public void A_prefilled_request_cannot_end_with_an_unanswered_tool_use()
    {
        Message[] messages = [User("Weather?"), Assistant(Text("Checking."), ToolUse("toolu_01"))];

        var violation = Assert.Single(ConversationValidator.Validate(messages, Prefill));

        Assert.Equal(ValidationRule.ToolUseNotAnswered, violation.Rule);
        Assert.Equal("message 1: tool_use toolu_01 has no tool_result after it; a prefilled request cannot end with a tool_use", violation.ToString());
    }

    [Fact]
    public void A_request_may_end_with_a_system_message_right_after_the_users()
    {
        Message[] messages = [User("Hi"), Assistant("Hello"), User("Tell me more"), SystemMessage("Be brief.")];

        Assert.Empty(ConversationValidator.Validate(messages, ValidationOptions.ApiRequest));
    }

    [Fact]
    public void A_system_message_after_the_replies_end_does_not_turn_the_request_into_a_user_turn()
    {
        Message[] messages = [User("Hi"), Assistant("Hello"), SystemMessage("Be brief.")];

        var violation = Assert.Single(ConversationValidator.Validate(messages, ValidationOptions.ApiRequest));

        Assert.Equal(ValidationRule.FinalMessageNotUser, violation.Rule);
        Assert.Equal(1, violation.MessageIndex);
    }

    [Fact]
    public void Validate_reports_every_violation_in_message_order()
    {
        Message[] messages = [User(""), Assistant(Thinking()), User(ToolResult("toolu_09"))];

        var violations = ConversationValidator.Validate(messages, ApiRequest);

        Assert.Equal([0, 1, 2], violations.Select(v => v.MessageIndex));
        Assert.Equal(
            [ValidationRule.EmptyText, ValidationRule.ThinkingLast, ValidationRule.ToolResultWithoutToolUse],
            violations.Select(v => v.Rule));
    }

    [Fact]
    public void A_tool_result_in_the_first_message_has_no_tool_use_before_it()
    {
        var violation = Assert.Single(ConversationValidator.Validate([User(ToolResult("toolu_01"))], ApiRequest));

        Assert.Equal("message 0: tool_result for toolu_01 has no tool_use before it", violation.ToString());
    }

    [Fact]
    public void ThrowIfInvalid_names_the_message_index_and_rule_in_its_message()
    {
        Message[] messages = [User("Hi"), User("Hello?")];

        var ex = Assert.Throws<LedgerValidationException>(() => ConversationValidator.ThrowIfInvalid(messages, StrictRequest));

        Assert.Equal(ValidationRule.RolesNotAlternating, Assert.Single(ex.Violations).Rule);
        Assert.Equal("invalid conversation: message 1: two user messages in a row (messages 0 and 1); user and assistant must alternate", ex.Message);
    }

    [Fact]
    public void ThrowIfInvalid_counts_the_problems_when_there_are_several()
    {
        var ex = Assert.Throws<LedgerValidationException>(() => ConversationValidator.ThrowIfInvalid([User(""), User(" ")], StrictRequest));

        Assert.StartsWith("invalid conversation (3 problems): message 0: block 0: text blocks must not be empty; ", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ThrowIfInvalid_does_nothing_for_a_valid_conversation()
    {
        ConversationValidator.ThrowIfInvalid([User("Hi"), Assistant("Hello"), User("Bye")], StrictRequest);
    }

    [Fact]
    public void Validate_defaults_to_the_api_request_rules()
    {
        Assert.Equal(ValidationRule.FinalMessageNotUser, Assert.Single(ConversationValidator.Validate([User("Hi"), Assistant("Hello")])).Rule);
        Assert.Empty(ConversationValidator.Validate([User("Hi"), User("Hello")]));
    }

    [Fact]
    public void Validate_guards_against_a_null_list()
    {
        Assert.Throws<ArgumentNullException>("messages", () => ConversationValidator.Validate(null!));
    }
}
