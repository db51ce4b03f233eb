using System.Net;
using System.Text.Json;
using Anthropic.Exceptions;

namespace ConversationLedger.Emulator.Tests;

/// <summary>
/// Each model answers by its own rules, read from the model table: a Claude 5 model (Sonnet 5.5, the default; Opus 5.5,
/// which always thinks) and Haiku 4.5 (manual thinking, prefill, forced tool use, sampling). Driven with the official SDK.
/// </summary>
public sealed class ModelFamilyTests : EmulatorTestBase
{
    private const string Sonnet = "claude-sonnet-5-5";
    private const string Haiku = "claude-haiku-4-5";
    private const string Tool = """ "tools":[{"name":"get_weather","input_schema":{"type":"object"}}] """;

    private async Task<string> RefusalAsync(string body)
    {
        var error = await Assert.ThrowsAsync<AnthropicBadRequestException>(() => Sdk().Messages.Create(Params(body)));
        return JsonDocument.Parse(error.ResponseBody!).RootElement.GetProperty("error").GetProperty("message").GetString()!;
    }

    [Fact]
    public async Task Manual_thinking_is_refused_on_the_Claude_5_family_and_answered_on_Haiku_4_5()
    {
        const string manual = """ "thinking":{"type":"enabled","budget_tokens":1024} """;

        var refused = await RefusalAsync(Body(Conversation("Hi"), manual, maxTokens: 2000, model: Sonnet));
        var answered = await Sdk().Messages.Create(Params(Body(Conversation("Hi"), manual, maxTokens: 2000, model: Haiku)));

        Assert.Equal("\"thinking.type.enabled\" is not supported for this model. Use \"thinking.type.adaptive\" and \"output_config.effort\" to control thinking behavior.", refused);
        Assert.True(answered.Content[0].TryPickThinking(out var thinking));
        Assert.NotEmpty(thinking!.Thinking); // manual thinking is summarized
    }

    [Fact]
    public async Task Adaptive_thinking_is_refused_on_Haiku_4_5()
    {
        var refused = await RefusalAsync(Body(Conversation("Hi"), """ "thinking":{"type":"adaptive"} """, model: Haiku));

        Assert.Equal("adaptive thinking is not supported on this model", refused);
    }

    [Fact]
    public async Task Sonnet_5_5_thinks_by_default_with_its_display_omitted_an_empty_text_and_a_signature()
    {
        var reply = await Sdk().Messages.Create(Params(Body(Conversation("Hi"), model: Sonnet)));

        Assert.True(reply.Content[0].TryPickThinking(out var thinking));
        Assert.Equal("", thinking!.Thinking);
        Assert.False(string.IsNullOrEmpty(thinking.Signature));
        Assert.True(reply.Content[1].TryPickText(out _));
    }

    [Fact]
    public async Task A_streamed_omitted_thinking_block_sends_its_signature_and_no_thinking_text()
    {
        var types = new List<string>();
        await foreach (var ev in Sdk().Messages.CreateStreaming(Params(Body(Conversation("Hi"), """ "thinking":{"type":"adaptive","display":"omitted"} """, model: Sonnet))))
        {
            if (ev.TryPickContentBlockDelta(out var delta))
            {
                types.Add(delta!.Delta.Json.GetProperty("type").GetString()!);
            }
        }

        Assert.Contains("signature_delta", types);
        Assert.DoesNotContain("thinking_delta", types);
        Assert.Contains("text_delta", types);
    }

    [Fact]
    public async Task A_summarized_display_returns_readable_thinking_and_between_tools_skips_up_front_thinking()
    {
        var summarized = await Sdk().Messages.Create(Params(Body(Conversation("Hi"), """ "thinking":{"type":"adaptive","display":"summarized"} """, model: Sonnet)));
        var betweenTools = await Sdk().Messages.Create(Params(Body(Conversation("Hi"), """ "thinking":{"type":"between_tools"} """, model: Sonnet)));

        Assert.True(summarized.Content[0].TryPickThinking(out var thinking));
        Assert.NotEmpty(thinking!.Thinking);
        Assert.True(betweenTools.Content[0].TryPickText(out _));
    }

    [Fact]
    public async Task A_model_that_always_thinks_refuses_thinking_disabled()
    {
        var refused = await RefusalAsync(Body(Conversation("Hi"), """ "thinking":{"type":"disabled"} """, model: "claude-opus-5-5"));

        Assert.Equal("\"thinking.type.disabled\" is not supported for this model. Use \"thinking.type.adaptive\".", refused);
    }

    [Fact]
    public async Task Effort_is_taken_at_the_models_levels_and_refused_where_the_model_has_none()
    {
        var max = await Sdk().Messages.Create(Params(Body(Conversation("Hi"), """ "output_config":{"effort":"max"} """, model: Sonnet)));
        var unknown = await RefusalAsync(Body(Conversation("Hi"), """ "output_config":{"effort":"extreme"} """, model: Sonnet));
        var none = await RefusalAsync(Body(Conversation("Hi"), """ "output_config":{"effort":"low"} """, model: Haiku));

        Assert.Equal("end_turn", max.StopReason!.Raw());
        Assert.Equal("output_config.effort: Input should be 'low', 'medium', 'high' or 'max'", unknown);
        Assert.Equal("output_config.effort: effort is not supported for this model", none);
    }

    [Fact]
    public async Task Forced_tool_use_is_refused_on_Sonnet_5_5_answered_on_Haiku_4_5_and_refused_there_with_manual_thinking()
    {
        const string forced = """ "tool_choice":{"type":"any"} """;

        var sonnet = await RefusalAsync(Body(Conversation("Weather?"), Tool + "," + forced, model: Sonnet));
        var haiku = await Sdk().Messages.Create(Params(Body(Conversation("Weather?"), Tool + "," + forced, model: Haiku)));
        var haikuThinking = await RefusalAsync(Body(Conversation("Weather?"),
            Tool + "," + forced + """, "thinking":{"type":"enabled","budget_tokens":1024} """, maxTokens: 2000, model: Haiku));

        Assert.StartsWith("`tool_choice` forcing tool use (`any` or `tool`) is not supported for this model.", sonnet, StringComparison.Ordinal);
        Assert.Equal("tool_use", haiku.StopReason!.Raw());
        Assert.Equal("Thinking may not be enabled when tool_choice forces tool use.", haikuThinking);
    }

    [Fact]
    public async Task A_tool_choice_naming_a_tool_the_request_does_not_define_is_refused()
    {
        var refused = await RefusalAsync(Body(Conversation("Weather?"), Tool + """, "tool_choice":{"type":"tool","name":"get_time"} """, model: Haiku));

        Assert.Equal("tool_choice.name: Tool 'get_time' not found in the request's tools", refused);
    }

    [Fact]
    public async Task Prefill_is_refused_on_Sonnet_5_5_and_continued_on_Haiku_4_5()
    {
        var sonnet = await RefusalAsync(Body(Conversation("Name a colour", "The colour is"), model: Sonnet));
        var haiku = await Sdk().Messages.Create(Params(Body(Conversation("Name a colour", "The colour is"), model: Haiku)));

        Assert.Equal("This model does not support assistant message prefill. The conversation must end with a user message.", sonnet);
        Assert.Equal("end_turn", haiku.StopReason!.Raw());
    }

    [Fact]
    public async Task A_system_message_is_taken_anywhere_after_the_first_message_on_Sonnet_5_5_and_refused_on_Haiku_4_5()
    {
        const string messages = """[{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello"},{"role":"system","content":"Be brief."},{"role":"user","content":"More?"},{"role":"system","content":"In French."}]""";

        var sonnet = await Sdk().Messages.Create(Params(Body(messages, model: Sonnet)));
        var haiku = await RefusalAsync(Body(messages, model: Haiku));

        Assert.Equal("end_turn", sonnet.StopReason!.Raw());
        Assert.StartsWith("messages: Unexpected role \"system\".", haiku, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(Sonnet, "0.5", HttpStatusCode.BadRequest, "`temperature` is deprecated for this model.")]
    [InlineData(Sonnet, "1", HttpStatusCode.OK, null)]
    [InlineData(Haiku, "0.5", HttpStatusCode.OK, null)]
    [InlineData(Haiku, "5", HttpStatusCode.BadRequest, "temperature: Input should be less than or equal to 1")]
    public async Task Sampling_parameters_follow_the_model_under_the_2023_API_version(string model, string temperature, HttpStatusCode status, string? message)
    {
        using var response = await PostAsync("/v1/messages", Body(Conversation("Hi"), $""" "temperature":{temperature} """, model: model),
            headers: ("anthropic-version", "2023-06-01"));

        Assert.Equal(status, response.StatusCode);
        if (message is not null)
        {
            Assert.Equal(message, (await JsonAsync(response)).GetProperty("error").GetProperty("message").GetString());
        }
    }

    [Fact]
    public async Task A_model_is_answered_until_the_day_it_is_retired_and_then_as_not_found()
    {
        var body = Body(Conversation("Hi"), model: "claude-sonnet-4-5-20250929");
        Clock.Set(new DateTimeOffset(2026, 11, 29, 23, 0, 0, TimeSpan.Zero));
        var served = await Sdk().Messages.Create(Params(body));
        Clock.Set(new DateTimeOffset(2026, 11, 30, 0, 0, 0, TimeSpan.Zero));

        var error = await Assert.ThrowsAsync<AnthropicNotFoundException>(() => Sdk().Messages.Create(Params(body)));

        Assert.Equal("end_turn", served.StopReason!.Raw());
        Assert.Contains("claude-sonnet-4-5-20250929 was retired on 2026-11-30", error.ResponseBody, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sonnet_5_5_counts_with_its_own_tokenizer_about_30_percent_above_o200k()
    {
        var body = Body(Conversation("The quick brown fox jumps over the lazy dog. " + string.Join(' ', Enumerable.Range(0, 200))), model: Sonnet);

        var counted = await Sdk().Messages.CountTokens(CountParams(body.Replace("\"max_tokens\":200,", "", StringComparison.Ordinal)));

        Assert.Equal(TokenCalibration.Apply(CoreEstimate(body), 1.3), counted.InputTokens);
    }

    [Fact]
    public async Task A_request_shaped_as_todays_first_party_clients_send_it_is_answered_plain_and_streamed()
    {
        // anthropic-version 2023-06-01 with beta headers, adaptive thinking with display omitted, effort, context editing,
        // deferred tools, a cached system block and metadata.user_id.
        const string extra = """
            "system":[{"type":"text","text":"You are a coding agent.","cache_control":{"type":"ephemeral"}}],
            "thinking":{"type":"adaptive","display":"omitted"},
            "output_config":{"effort":"high"},
            "context_management":{"edits":[{"type":"clear_thinking_20251015","keep":{"type":"thinking_turns","value":1}}]},
            "tools":[{"name":"read_file","description":"Reads a file","input_schema":{"type":"object"},"defer_loading":true},
                     {"name":"bash","input_schema":{"type":"object"},"cache_control":{"type":"ephemeral"}}],
            "metadata":{"user_id":"user_0123"}
            """;
        (string, string)[] headers =
        [
            ("anthropic-version", "2023-06-01"),
            ("anthropic-beta", "context-management-2025-06-27,mid-conversation-tool-changes-2026-07-01,advanced-tool-use-2025-11-20"),
        ];

        using var plain = await PostAsync("/v1/messages", Body(Conversation("List the files."), extra, maxTokens: 4000, model: Sonnet), headers: headers);
        using var streamed = await PostAsync("/v1/messages", Body(Conversation("List the files."), extra + """, "stream":true """, maxTokens: 4000, model: Sonnet), headers: headers);

        Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
        var content = (await JsonAsync(plain)).GetProperty("content");
        Assert.Equal("thinking", content[0].GetProperty("type").GetString());
        Assert.Equal("", content[0].GetProperty("thinking").GetString());
        Assert.Equal(HttpStatusCode.OK, streamed.StatusCode);
        Assert.Contains("event: message_stop", await streamed.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_image_whose_base64_data_does_not_decode_is_refused()
    {
        const string image = """[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"not base64!"}},{"type":"text","text":"What is this?"}]}]""";

        var refused = await RefusalAsync(Body(image, model: Haiku));

        Assert.Equal("messages.0.content.0.image.source.base64.data: Invalid base64 data", refused);
    }

    [Fact]
    public async Task A_context_management_edit_of_an_unknown_type_is_refused()
    {
        var refused = await RefusalAsync(Body(Conversation("Hi"), """ "context_management":{"edits":[{"type":"forget_everything"}]} """, model: Sonnet));

        Assert.StartsWith("context_management.edits.0.type: Input should be", refused, StringComparison.Ordinal);
    }
}
