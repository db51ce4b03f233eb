using System.Net;
using Anthropic.Exceptions;

namespace ConversationLedger.Emulator.Tests;

public sealed class ValidationTests : EmulatorTestBase
{
    private const string U = """{"role":"user","content":"Hello"}""";
    private const string A = """{"role":"assistant","content":"Hi there"}""";

    public static TheoryData<string, string> Invalid => new()
    {
        { """{"model":"@M","messages":[@U]}""", "max_tokens: Field required" },
        { """{"model":"@M","max_tokens":10}""", "messages: Field required" },
        { Body("[]"), "messages: at least one message is required" },
        { Body("[@U]", "\"foo\":1"), "foo: Extra inputs are not permitted" },
        { Body("[@U]", "\"temperature\":0.5"), "temperature: Extra inputs are not permitted. `temperature` is not supported with anthropic-version 2026-10-21 and later." },
        { Body("[@U]", "\"top_p\":0.5"), "top_p: Extra inputs are not permitted. `top_p` is not supported with anthropic-version 2026-10-21 and later." },
        { Body("[@U]", "\"top_k\":5"), "top_k: Extra inputs are not permitted. `top_k` is not supported with anthropic-version 2026-10-21 and later." },
        { Body("""[{"role":"user","content":""}]"""), "messages: text content blocks must be non-empty" },
        { Body("""[{"role":"user","content":[{"type":"text","text":"  \n"}]}]"""), "messages: text content blocks must contain non-whitespace text" },
        { Body("""[@U,@A,{"role":"user","content":[]}]"""), "messages.2: all messages must have non-empty content except for the optional final assistant message" },
        { Body("""[@U,{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"f","input":{}}]},@U]"""),
            "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_1. Each `tool_use` block must have a corresponding `tool_result` block in the next message." },
        { Body("""[@U,{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"f","input":{}}]},{"role":"user","content":[{"type":"text","text":"x"},{"type":"tool_result","tool_use_id":"toolu_1","content":"ok"}]}]"""),
            "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_1. Each `tool_use` block must have a corresponding `tool_result` block in the next message." },
        { Body("""[{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_9","content":"ok"}]}]"""),
            "messages.0.content.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_9. Each `tool_result` block must have a corresponding `tool_use` block in the previous message." },
        { Body("""[@U,{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"f","input":{}},{"type":"tool_use","id":"toolu_1","name":"f","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"ok"}]}]"""),
            "messages.1.content.1: `tool_use` ids must be unique" },
        { Body("""[@U,{"role":"assistant","content":[{"type":"text","text":"a"},{"type":"thinking","thinking":"t","signature":"s"},{"type":"text","text":"b"}]},@U]"""),
            "messages.1.content.0: If an assistant message contains any thinking blocks, the first block must be `thinking` or `redacted_thinking`. Found `text`." },
        { Body("""[@U,{"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":"s"}]},@U]"""),
            "messages.1: The final block in an assistant message cannot be `thinking`." },
        { Body("""[@U,{"role":"assistant","content":[{"type":"thinking","thinking":"t"},{"type":"text","text":"b"}]},@U]"""),
            "messages.1.content.0.thinking.signature: Field required" },
        { Body("""[@U,{"role":"tool","content":"x"},@U]"""), "messages: Unexpected role \"tool\". Allowed roles are \"user\" or \"assistant\"." },
        { Body("[@U]", maxTokens: 65536, model: "claude-haiku-4-5-20251001"),
            "max_tokens: 65536 > 64000, which is the maximum allowed number of output tokens for claude-haiku-4-5-20251001" },
        { Body("[@U,@A]", model: "claude-sonnet-4-6"),
            "This model does not support assistant message prefill. The conversation must end with a user message." },
        { Body("""[@U,{"role":"assistant","content":"Sure, "}]"""), "messages: final assistant content cannot end with trailing whitespace" },
        { Body("""[@U,{"role":"assistant","content":[{"type":"document","source":{"type":"text","media_type":"text/plain","data":"d"}}]},@U]"""),
            "messages.1.content.0: `document` blocks are not supported in `assistant` messages" },
        { Body("\"hello\""), "messages: Input should be a valid list" },
        { Body("""[@U,{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"f","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"ok"}]}]""",
                "\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":1024}", maxTokens: 2000),
            "messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found `tool_use`. When `thinking` is enabled, a final `assistant` message must start with a thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks). We recommend you include thinking blocks from previous turns. To avoid this requirement, disable `thinking`." },
        { Body("[@U]", "\"system\":[{\"type\":\"text\",\"text\":\"a\",\"cache_control\":{\"type\":\"ephemeral\"}},{\"type\":\"text\",\"text\":\"b\",\"cache_control\":{\"type\":\"ephemeral\"}},{\"type\":\"text\",\"text\":\"c\",\"cache_control\":{\"type\":\"ephemeral\"}},{\"type\":\"text\",\"text\":\"d\",\"cache_control\":{\"type\":\"ephemeral\"}}],\"cache_control\":{\"type\":\"ephemeral\"}"),
            "A maximum of 4 blocks with cache_control may be provided. Found 5." },
        { Body("""[{"role":"user","content":[{"type":"text","text":"x","cache_control":{"type":"ephemeral","ttl":"2h"}}]}]"""),
            "messages.0.content.0.text.cache_control.ttl: Input should be '5m' or '1h'" },
        { Body("""[@U,{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"f","input":{}}]},@U,{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"ok"}]}]"""),
            "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_1. Each `tool_use` block must have a corresponding `tool_result` block in the next message." },
        { Body("""[@U,{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"f","input":{}}]},{"role":"assistant","content":"Calling"}]"""),
            "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_1. Each `tool_use` block must have a corresponding `tool_result` block in the next message." },
        // system takes text blocks only, so any other block is refused for its type, whatever else it lacks.
        { Body("[@U]", "\"system\":[{\"type\":\"image\"}]"), "system.0.type: Input should be 'text'" },
        { Body("[@U]", "\"system\":[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"document\",\"source\":{\"type\":\"url\"}}]"),
            "system.1.type: Input should be 'text'" },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public async Task An_invalid_request_gets_400_with_the_API_wording(string body, string message)
    {
        body = body.Replace("@U", U, StringComparison.Ordinal).Replace("@A", A, StringComparison.Ordinal).Replace("@M", Model, StringComparison.Ordinal);
        var ex = await Assert.ThrowsAsync<AnthropicBadRequestException>(() => Sdk().Messages.Create(Params(body)));

        Assert.Equal(HttpStatusCode.BadRequest, ex.StatusCode);
        Assert.Equal("invalid_request_error", ex.Type!.Raw());
        Assert.Equal(message, ex.ApiMessage);
        Assert.StartsWith("req_", ex.RequestID);
    }

    [Fact]
    public async Task Consecutive_turns_of_one_role_are_merged_before_tool_calls_are_paired()
    {
        const string Use1 = """{"type":"tool_use","id":"toolu_1","name":"f","input":{}}""";
        const string Use2 = """{"type":"tool_use","id":"toolu_2","name":"f","input":{}}""";
        const string Result1 = """{"type":"tool_result","tool_use_id":"toolu_1","content":"ok"}""";
        const string Result2 = """{"type":"tool_result","tool_use_id":"toolu_2","content":"ok"}""";
        var client = Sdk();

        // The API merges same-role turns: the tool calls of both assistant messages are answered by the merged user turn.
        var splitCalls = await client.Messages.Create(Params(Body($$"""
            [{{U}},{"role":"assistant","content":[{{Use1}}]},{"role":"assistant","content":[{"type":"text","text":"And:"},{{Use2}}]},
             {"role":"user","content":[{{Result1}}]},{"role":"user","content":[{{Result2}}]}]
            """)));

        Assert.Equal("end_turn", splitCalls.StopReason!.Raw());
    }

    [Fact]
    public async Task A_missing_model_gets_400_field_required()
    {
        // The SDK refuses to send a body without a model, so this goes over raw HTTP.
        using var response = await PostAsync("/v1/messages", """{"max_tokens":10,"messages":[{"role":"user","content":"Hello"}]}""");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("model: Field required", (await JsonAsync(response)).GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task An_unknown_model_gets_404()
    {
        var ex = await Assert.ThrowsAsync<AnthropicNotFoundException>(() => Sdk().Messages.Create(Params(Body("[" + U + "]", model: "claude-nope"))));

        Assert.Equal("not_found_error", ex.Type!.Raw());
        Assert.Equal("model: claude-nope", ex.ApiMessage);
    }

    [Fact]
    public async Task Sampling_parameters_are_still_accepted_from_clients_of_older_API_versions()
    {
        using var response = await PostAsync("/v1/messages", Body("[" + U + "]", "\"temperature\":0.5"), headers: ("anthropic-version", "2023-06-01"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task A_key_other_than_the_configured_one_gets_401()
    {
        await using var strict = new EmulatorServer(new EmulatorOptions { ApiKey = "the-key" });
        var url = await strict.StartAsync();
        var client = new Anthropic.AnthropicClient { ApiKey = "wrong", BaseUrl = url, MaxRetries = 0 };

        var ex = await Assert.ThrowsAsync<AnthropicUnauthorizedException>(() => client.Messages.Create(Params(Body("[" + U + "]"))));

        Assert.Equal("authentication_error", ex.Type!.Raw());
        Assert.Equal("invalid x-api-key", ex.ApiMessage);
        var ok = new Anthropic.AnthropicClient { ApiKey = "the-key", BaseUrl = url, MaxRetries = 0 };
        Assert.NotNull(await ok.Messages.Create(Params(Body("[" + U + "]"))));
    }

    [Fact]
    public async Task A_body_over_the_limit_gets_413()
    {
        await using var small = new EmulatorServer(new EmulatorOptions { MaxRequestBodyBytes = 10_000 });
        var url = await small.StartAsync();
        var client = new Anthropic.AnthropicClient { ApiKey = Key, BaseUrl = url, MaxRetries = 0 };

        var ex = await Assert.ThrowsAsync<AnthropicContentTooLargeException>(
            () => client.Messages.Create(Params(Body(Conversation(new string('x', 20_000))))));

        Assert.Equal((HttpStatusCode)413, ex.StatusCode);
        Assert.Equal("request_too_large", ex.Type!.Raw());
    }

    [Fact]
    public async Task A_prompt_over_the_context_window_is_too_long()
    {
        var catalog = new ModelCatalog([new ModelInfo { Id = "tiny-model", ContextWindow = 50, MaxOutput = 100 }]);
        await using var tiny = new EmulatorServer(new EmulatorOptions { Models = catalog });
        var url = await tiny.StartAsync();
        var client = new Anthropic.AnthropicClient { ApiKey = Key, BaseUrl = url, MaxRetries = 0 };
        var body = Body(Conversation(Words(100)), model: "tiny-model", maxTokens: 10);

        var ex = await Assert.ThrowsAsync<AnthropicBadRequestException>(() => client.Messages.Create(Params(body)));

        Assert.Equal($"prompt is too long: {CoreEstimate(body)} tokens > 50 maximum", ex.ApiMessage);
    }

    [Fact]
    public async Task Count_tokens_rejects_the_same_rules_and_max_tokens()
    {
        var client = Sdk();

        var ex = await Assert.ThrowsAsync<AnthropicBadRequestException>(() => client.Messages.CountTokens(CountParams(Body("[" + U + "]"))));
        var empty = await Assert.ThrowsAsync<AnthropicBadRequestException>(
            () => client.Messages.CountTokens(CountParams($$"""{"model":"{{Model}}","messages":[]}""")));
        var unknown = await Assert.ThrowsAsync<AnthropicNotFoundException>(
            () => client.Messages.CountTokens(CountParams($$"""{"model":"nope","messages":[{{U}}]}""")));

        Assert.Equal("max_tokens: Extra inputs are not permitted", ex.ApiMessage);
        Assert.Equal("messages: at least one message is required", empty.ApiMessage);
        Assert.Equal("model: nope", unknown.ApiMessage);
    }
}
