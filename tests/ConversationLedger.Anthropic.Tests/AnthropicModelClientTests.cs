using System.Text.Json;
using ConversationLedger.Emulator;

namespace ConversationLedger.Anthropic.Tests;

public sealed class AnthropicModelClientTests(EmulatorFixture fixture) : IClassFixture<EmulatorFixture>, IDisposable
{
    private static ModelRequest Request(string text = "Hello there", string model = "claude-sonnet-5-5", IReadOnlyDictionary<string, string>? headers = null) => new()
    {
        Model = model,
        MaxTokens = 256,
        System = [ContentBlock.CreateText("You are terse.")],
        Messages = [Message.User(text)],
        Headers = headers ?? new Dictionary<string, string>(),
    };

    private static Dictionary<string, string> Fault(string fault) => new() { ["x-emulator-fault"] = fault };

    public void Dispose() => fixture.Emulator.Reset();

    [Fact]
    public async Task Send_returns_the_reply_with_its_blocks_verbatim_and_every_usage_field()
    {
        var thinking = ContentBlock.Parse("""{"type":"thinking","thinking":"Let me think.","signature":"EqQBCkgIARABGAIiQL+/sig=="}""");
        fixture.Emulator.Script.Enqueue(new ScriptedReply([thinking, ContentBlock.CreateText("Hi!")]));

        var response = await fixture.Client().SendAsync(Request());

        Assert.StartsWith("msg_", response.Id, StringComparison.Ordinal);
        Assert.Equal("claude-sonnet-5-5", response.Model);
        Assert.Equal("end_turn", response.StopReason);
        Assert.Equal(Role.Assistant, response.Message.Role);
        Assert.Equal("EqQBCkgIARABGAIiQL+/sig==", response.Message.Content[0].Thinking!.Signature);
        Assert.Equal("Hi!", response.Message.Content[1].Text);
        // Counted as the model's tokenizer counts: o200k scaled by the model's factor.
        Assert.Equal(TokenCalibration.Apply(O200kTokenCounter.Instance.CountTokens(Request()), ModelCatalog.Default.Get("claude-sonnet-5-5").TokenFactor),
            response.Usage.TotalInputTokens);
        Assert.True(response.Usage.OutputTokens > 0);
        Assert.StartsWith("req_", response.RequestId, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_request_body_on_the_wire_is_exactly_what_the_ledger_wrote()
    {
        var unknown = ContentBlock.Parse("""{"type":"text","text":"keep me","future_field":{"x":[1,2.50]}}""");
        var request = Request() with { Messages = [new Message(Role.User, [unknown])] };

        await fixture.Client().SendAsync(request);

        using var sent = JsonDocument.Parse(fixture.Emulator.Requests.Snapshot()[^1].Body);
        Assert.Equal(unknown.Json, sent.RootElement.GetProperty("messages")[0].GetProperty("content")[0].GetRawText());
        Assert.Equal("You are terse.", sent.RootElement.GetProperty("system")[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task Streaming_yields_deltas_and_assembles_the_same_message_as_a_plain_call()
    {
        var blocks = new[]
        {
            ContentBlock.CreateThinking("Weighing options.", "sig-abc/+=="),
            ContentBlock.CreateText("Calling the tool."),
            ContentBlock.CreateToolUse("toolu_01", "get_weather", """{"city":"Paris","days":3}"""),
        };
        fixture.Emulator.Script.Enqueue(new ScriptedReply(blocks), new ScriptedReply(blocks));

        var plain = await fixture.Client().SendAsync(Request());
        var events = new List<ModelStreamEvent>();
        await foreach (var e in fixture.Client().StreamAsync(Request()))
        {
            events.Add(e);
        }

        var streamed = Assert.IsType<StreamCompleted>(events[^1]).Response;
        // message_start reports the prompt's usage first: what is billed if the stream is then cut short.
        Assert.Equal(plain.Usage.InputTokens, Assert.IsType<StreamStarted>(events[0]).Usage.InputTokens);
        Assert.Equal("Calling the tool.", string.Concat(events.OfType<TextDelta>().Select(d => d.Text)));
        Assert.Equal("Weighing options.", string.Concat(events.OfType<ThinkingDelta>().Select(d => d.Text)));
        Assert.NotEmpty(events.OfType<ToolInputDelta>());
        Assert.Equal("tool_use", streamed.StopReason);
        Assert.Equal(plain.Usage, streamed.Usage);
        Assert.Equal(plain.Message.Content.Select(Normalize), streamed.Message.Content.Select(Normalize));
        Assert.Equal("sig-abc/+==", streamed.Message.Content[0].Thinking!.Signature);
        Assert.StartsWith("req_", streamed.RequestId, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Count_tokens_matches_what_a_call_reports_as_input()
    {
        var counted = await fixture.Client().CountTokensAsync(Request("How many tokens is this?"));
        var sent = await fixture.Client().SendAsync(Request("How many tokens is this?"));

        Assert.Equal(sent.Usage.TotalInputTokens, counted);
    }

    [Theory]
    [InlineData("429", 429, "rate_limit_error", typeof(RateLimitedException))]
    [InlineData("529", 529, "overloaded_error", typeof(OverloadedException))]
    [InlineData("500", 500, "api_error", typeof(ModelCallException))]
    public async Task Api_errors_keep_status_type_message_and_request_id(string fault, int status, string type, Type exception)
    {
        var error = await Assert.ThrowsAnyAsync<ModelCallException>(() => fixture.Client().SendAsync(Request(headers: Fault(fault))));

        Assert.IsType(exception, error);

        Assert.Equal(status, error.StatusCode);
        Assert.Equal(type, error.ErrorType);
        Assert.StartsWith("req_", error.RequestId, StringComparison.Ordinal);
        Assert.Contains(error.RequestId!, error.Message, StringComparison.Ordinal);
        Assert.Contains("nothing was stored", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_rate_limit_error_carries_the_retry_after_the_API_asked_for()
    {
        var error = await Assert.ThrowsAsync<RateLimitedException>(() => fixture.Client().SendAsync(Request(headers: Fault("429:7"))));

        Assert.Equal(TimeSpan.FromSeconds(7), error.RetryAfter);
    }

    [Fact]
    public async Task Validation_errors_and_unknown_models_come_back_in_the_API_wording()
    {
        var orphan = Request() with { Messages = [new Message(Role.User, [ContentBlock.CreateToolResult("toolu_9", "42")])] };

        var bad = await Assert.ThrowsAsync<ModelCallException>(() => fixture.Client().SendAsync(orphan));
        var missing = await Assert.ThrowsAsync<ModelCallException>(() => fixture.Client().SendAsync(Request(model: "claude-xyz")));

        Assert.Equal(400, bad.StatusCode);
        Assert.Contains("tool_use_id", bad.ApiMessage, StringComparison.Ordinal);
        Assert.Equal(404, missing.StatusCode);
        Assert.Equal("not_found_error", missing.ErrorType);
        Assert.Contains("claude-xyz", missing.ApiMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_prompt_over_the_window_is_reported_as_too_long()
    {
        var huge = Request(string.Join(' ', Enumerable.Repeat("token", 210_000)), model: "claude-haiku-4-5");

        var error = await Assert.ThrowsAsync<PromptTooLongException>(() => fixture.Client().SendAsync(huge));

        Assert.Equal(400, error.StatusCode);
    }

    [Fact]
    public async Task A_bad_key_is_an_authentication_error_that_never_shows_the_key()
    {
        const string wrong = "sk-ant-wrong-key-must-not-leak";

        var error = await Assert.ThrowsAsync<ModelCallException>(() => fixture.Client(apiKey: wrong).SendAsync(Request()));

        Assert.Equal(401, error.StatusCode);
        Assert.Equal("authentication_error", error.ErrorType);
        Assert.DoesNotContain(wrong, error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(EmulatorFixture.ApiKey, error.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("error-event:3")]
    [InlineData("cut:4")]
    [InlineData("drop")]
    public async Task A_broken_stream_is_an_error_not_a_short_reply(string fault)
    {
        var error = await Assert.ThrowsAnyAsync<ModelCallException>(async () =>
        {
            await foreach (var _ in fixture.Client().StreamAsync(Request(headers: Fault(fault))))
            {
            }
        });

        Assert.Contains("nothing was stored", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_history_as_deep_as_a_message_may_be_is_sent_and_streamed_unchanged()
    {
        // message (1) > content (2) > block (3) > input (4) > nested objects: a tool call at the deepest a message may nest.
        var input = string.Concat(Enumerable.Repeat("{\"a\":", Message.MaxDepth - 4)) + "{}" + new string('}', Message.MaxDepth - 4);
        var call = ContentBlock.Parse($$"""{"type":"tool_use","id":"toolu_1","name":"f","input":{{input}}}""");
        // A model that does not think unless asked: a hand-made loop without thinking blocks is then a valid request.
        var request = Request(model: "claude-haiku-4-5") with
        {
            Messages = [Message.User("q"), new Message(Role.Assistant, [call]), new Message(Role.User, [ContentBlock.CreateToolResult("toolu_1", "ok")])],
        };

        var sent = await fixture.Client().SendAsync(request);
        var streamed = await StreamedReplyAsync(request);

        Assert.Equal("end_turn", sent.StopReason);
        Assert.Equal("end_turn", streamed.StopReason);
        using var body = JsonDocument.Parse(fixture.Emulator.Requests.Snapshot()[^1].Body);
        Assert.Equal(call.Json, body.RootElement.GetProperty("messages")[1].GetProperty("content")[0].GetRawText());
    }

    [Fact]
    public async Task A_streamed_thinking_block_with_its_display_omitted_still_says_thinking_started()
    {
        // Sonnet 5.5 thinks by default with its display omitted: no thinking text arrives, only a signature.
        var events = new List<ModelStreamEvent>();
        await foreach (var e in fixture.Client().StreamAsync(Request()))
        {
            events.Add(e);
        }

        var firstThinking = events.FindIndex(e => e is ThinkingDelta);
        Assert.Equal("", ((ThinkingDelta)events[firstThinking]).Text);
        Assert.True(firstThinking < events.FindIndex(e => e is TextDelta));
        var reply = events.OfType<StreamCompleted>().Single().Response.Message;
        Assert.Equal("", reply.Content[0].Thinking!.Text);
        Assert.False(string.IsNullOrEmpty(reply.Content[0].Thinking!.Signature));
    }

    [Fact]
    public async Task A_request_the_sdk_cannot_take_fails_as_a_model_call_when_streamed_as_when_sent()
    {
        // Tools nested beyond what the SDK re-parses: the failure must be a ModelCallException, never a bare JsonException.
        using var tools = JsonDocument.Parse("[" + new string('[', 70) + new string(']', 70) + "]", new JsonDocumentOptions { MaxDepth = 100 });
        var request = Request() with { Tools = tools.RootElement.Clone() };

        await Assert.ThrowsAsync<ModelCallException>(() => fixture.Client().SendAsync(request));
        await Assert.ThrowsAsync<ModelCallException>(() => StreamedReplyAsync(request));
    }

    private async Task<ModelResponse> StreamedReplyAsync(ModelRequest request)
    {
        await foreach (var update in fixture.Client().StreamAsync(request))
        {
            if (update is StreamCompleted completed)
            {
                return completed.Response;
            }
        }
        throw new InvalidOperationException("the stream ended without a reply");
    }

    [Fact]
    public async Task The_sdk_retries_rate_limits_and_overloads_until_it_succeeds()
    {
        fixture.Emulator.Faults.Enqueue("429:1", "529");

        var response = await fixture.Client(maxRetries: 2).SendAsync(Request());

        Assert.Equal("end_turn", response.StopReason);
        Assert.Equal(3, fixture.Emulator.Requests.Snapshot().Count);
    }

    private static string Normalize(ContentBlock block) => JsonSerializer.Serialize(JsonSerializer.Deserialize<JsonElement>(block.Json));
}
