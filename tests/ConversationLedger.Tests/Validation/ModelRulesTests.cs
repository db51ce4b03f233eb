using System.Text.Json;

namespace ConversationLedger.Tests.Validation;

public sealed class ModelRulesTests
{
    private static readonly ModelInfo Sonnet55 = ModelCatalog.Default.Get("claude-sonnet-5-5");
    private static readonly ModelInfo Haiku45 = ModelCatalog.Default.Get("claude-haiku-4-5");

    private static ModelRequest Request(string? thinking = null, string? toolChoice = null, params Message[] messages) => new()
    {
        Model = "m",
        MaxTokens = 4096,
        Messages = messages.Length > 0 ? messages : [Message.User("Hi")],
        Thinking = thinking is null ? null : JsonDocument.Parse(thinking).RootElement,
        ToolChoice = toolChoice is null ? null : JsonDocument.Parse(toolChoice).RootElement,
    };

    [Fact]
    public void Each_model_refuses_the_thinking_form_it_does_not_take_in_the_APIs_words()
    {
        Assert.StartsWith("\"thinking.type.enabled\" is not supported for this model.",
            ModelRules.Check(Sonnet55, Request("""{"type":"enabled","budget_tokens":1024}"""))!.Description, StringComparison.Ordinal);
        Assert.Equal("adaptive thinking is not supported on this model", ModelRules.Check(Haiku45, Request("""{"type":"adaptive"}"""))!.Description);
        Assert.Null(ModelRules.Check(Sonnet55, Request("""{"type":"adaptive"}""")));
        Assert.Null(ModelRules.Check(Haiku45, Request("""{"type":"enabled","budget_tokens":1024}""")));
    }

    [Fact]
    public void Forced_tool_use_is_refused_by_the_model_or_by_manual_thinking_and_taken_with_adaptive_thinking()
    {
        const string any = """{"type":"any"}""";

        Assert.Equal(ValidationRule.ModelRefuses, ModelRules.Check(Sonnet55, Request(toolChoice: any))!.Rule);
        Assert.Equal("Thinking may not be enabled when tool_choice forces tool use.",
            ModelRules.Check(Haiku45, Request("""{"type":"enabled","budget_tokens":1024}""", any))!.Description);
        Assert.Null(ModelRules.Check(ModelCatalog.Default.Get("claude-sonnet-4-6"), Request("""{"type":"adaptive"}""", any)));
    }

    [Fact]
    public void Prefill_and_system_messages_follow_the_table_and_a_system_message_after_the_users_is_not_a_prefill()
    {
        var prefill = Request(messages: [Message.User("Name a colour"), Message.Assistant("The colour is")]);
        var systemLast = Request(messages: [Message.User("Hi"), new Message(Role.System, [ContentBlock.CreateText("Be brief.")])]);

        Assert.StartsWith("This model does not support assistant message prefill.", ModelRules.Check(Sonnet55, prefill)!.Description, StringComparison.Ordinal);
        Assert.Null(ModelRules.Check(Haiku45, prefill));
        Assert.Null(ModelRules.Check(Sonnet55, systemLast));
        Assert.Equal(1, ModelRules.Check(Haiku45, systemLast)!.MessageIndex);
    }

    [Fact]
    public void Sampling_is_refused_away_from_its_default_on_models_without_it()
    {
        Assert.Equal("`temperature` is deprecated for this model.", ModelRules.SamplingRefusal(Sonnet55, "temperature", 0.2));
        Assert.Null(ModelRules.SamplingRefusal(Sonnet55, "temperature", 1));
        Assert.Equal("`top_p` is deprecated for this model.", ModelRules.SamplingRefusal(Sonnet55, "top_p", 1));
        Assert.Null(ModelRules.SamplingRefusal(Haiku45, "top_k", 5));
    }

    [Fact]
    public void A_model_is_served_until_the_day_the_table_says_it_retired()
    {
        var retired = ModelCatalog.Default.Get("claude-sonnet-4-5");

        Assert.Null(ModelRules.RetiredRefusal(retired, "claude-sonnet-4-5", new DateOnly(2026, 11, 29)));
        Assert.Equal("model: claude-sonnet-4-5 was retired on 2026-11-30 and is no longer available. Choose a current model.",
            ModelRules.RetiredRefusal(retired, "claude-sonnet-4-5", new DateOnly(2026, 11, 30)));
    }

    [Theory]
    [InlineData("claude-sonnet-5-5", null, """{"type":"adaptive"}""", null)]
    [InlineData("claude-sonnet-5-5", "max", """{"type":"adaptive"}""", """{"effort":"max"}""")]
    [InlineData("claude-haiku-4-5", "low", """{"type":"enabled","budget_tokens":1024}""", null)]
    [InlineData("claude-haiku-4-5", null, """{"type":"enabled","budget_tokens":4096}""", null)]
    public void Adaptive_thinking_is_written_in_each_models_form(string model, string? effort, string thinking, string? outputConfig)
    {
        var (sentThinking, sentOutput) = ThinkingOptions.ForModel(ThinkingOptions.Adaptive, effort, ModelCatalog.Default.Get(model), maxTokens: 8192);

        Assert.Equal(thinking, sentThinking!.Value.GetRawText());
        Assert.Equal(outputConfig, sentOutput?.GetRawText());
    }

    [Fact]
    public void Settings_a_model_would_refuse_on_every_turn_are_found_once()
    {
        Assert.NotNull(ModelRules.CheckSettings(Sonnet55, ThinkingOptions.WithBudget(2048), null, 8192));
        Assert.NotNull(ModelRules.CheckSettings(ModelCatalog.Default.Get("claude-sonnet-4-6"), null, "max", 1024));
        Assert.Null(ModelRules.CheckSettings(Haiku45, null, "high", 1024)); // no effort there: it only sizes a thinking budget, never sent
        Assert.Null(ModelRules.CheckSettings(Sonnet55, ThinkingOptions.Adaptive, "low", 1024));
        Assert.Throws<ArgumentException>(() => ModelRules.CheckSettings(Haiku45, ThinkingOptions.Adaptive, null, 1024)); // no room for a budget
    }

    [Fact]
    public void A_summary_is_asked_for_what_was_said_not_for_thinking_blocks()
    {
        var reply = new Message(Role.Assistant, [ContentBlock.CreateThinking("", "emu1.sig"), ContentBlock.CreateText("The answer is 42.")]);

        var request = HistorySummarizer.BuildRequest("claude-sonnet-5-5", 1024, null, [Message.User("What is it?"), reply]);

        Assert.Contains("Assistant: The answer is 42.", request.Messages[0].Text, StringComparison.Ordinal);
        Assert.DoesNotContain("thinking", request.Messages[0].Text, StringComparison.Ordinal);
    }
}
