using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Anthropic.Models.Messages;

namespace ConversationLedger.Emulator.Tests;

public sealed class MessagesTests : EmulatorTestBase
{
    [Fact]
    public async Task Create_answers_with_what_the_emulator_can_see()
    {
        var body = Body(Conversation("My name is Hesham and I like tea.", "Nice to meet you.", "What's my name?"));

        var message = await Sdk().Messages.Create(Params(body));

        Assert.StartsWith("msg_", message.ID);
        Assert.Equal(Model, message.Model.Raw());
        Assert.True(message.Content[0].TryPickText(out var text));
        var expected = CoreEstimate(body);
        Assert.Equal(
            $"[emulator] I can see 3 messages ({expected} input tokens). Earliest user text: \"My name is Hesham and I like tea.\". Latest: \"What's my name?\".",
            text!.Text);
        Assert.Equal("end_turn", message.StopReason!.Raw());
        Assert.Null(message.StopSequence);
        Assert.Equal(expected, message.Usage.InputTokens);
        Assert.Equal(0, message.Usage.CacheCreationInputTokens);
        Assert.Equal(0, message.Usage.CacheReadInputTokens);
        Assert.Equal(0, message.Usage.CacheCreation!.Ephemeral5mInputTokens);
        Assert.Equal(0, message.Usage.CacheCreation!.Ephemeral1hInputTokens);
        Assert.Equal("standard", message.Usage.ServiceTier!.Raw());
        Assert.Equal(O200kTokenCounter.CountText(text.Text) + 1, message.Usage.OutputTokens);
    }

    [Fact]
    public async Task Count_tokens_equals_the_prompt_tokens_create_reports()
    {
        var messages = Conversation("First question, with some words in it.", "An answer.", "A follow-up.");
        var system = """ "system":[{"type":"text","text":"You are terse."}],"tools":[{"name":"get_weather","description":"Weather for a city","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}] """;
        var client = Sdk();

        var count = await client.Messages.CountTokens(CountParams($$"""{"model":"{{Model}}","messages":{{messages}},{{system}}}"""));
        var message = await client.Messages.Create(Params(Body(messages, system)));

        var usage = message.Usage;
        Assert.Equal(count.InputTokens, usage.InputTokens + usage.CacheCreationInputTokens + usage.CacheReadInputTokens);
        Assert.Equal(CoreEstimate(Body(messages, system)), count.InputTokens);
    }

    [Fact]
    public async Task Streaming_sends_the_events_in_the_API_order_and_the_same_reply()
    {
        var body = Body(Conversation("Tell me something."));
        var client = Sdk();
        var whole = await client.Messages.Create(Params(body));

        var types = new List<string>();
        var text = new StringBuilder();
        long outputTokens = 0;
        await foreach (var ev in client.Messages.CreateStreaming(Params(body)))
        {
            types.Add(ev.Type.Raw());
            if (ev.TryPickStart(out var start))
            {
                Assert.Empty(start.Message.Content);
                Assert.Equal(whole.Usage.InputTokens, start.Message.Usage.InputTokens);
            }
            if (ev.TryPickContentBlockDelta(out var delta) && delta.Delta.TryPickText(out var t))
            {
                text.Append(t.Text);
            }
            if (ev.TryPickDelta(out var messageDelta))
            {
                Assert.Equal("end_turn", messageDelta.Delta.StopReason!.Raw());
                outputTokens = messageDelta.Usage.OutputTokens;
            }
        }

        Assert.Equal("message_start", types[0]);
        Assert.Equal("content_block_start", types[1]);
        Assert.All(types[2..^3], t => Assert.Equal("content_block_delta", t));
        Assert.Equal(["content_block_stop", "message_delta", "message_stop"], types[^3..]);
        Assert.True(whole.Content[0].TryPickText(out var wholeText));
        Assert.Equal(wholeText!.Text, text.ToString());
        Assert.Equal(whole.Usage.OutputTokens, outputTokens);
    }

    [Fact]
    public async Task Scripted_replies_are_returned_verbatim_in_order_then_the_default_reply()
    {
        Server.Script.Enqueue(
            new ScriptedReply([
                ContentBlock.CreateThinking("Let me look it up.", "c2lnbmF0dXJl+/="),
                ContentBlock.CreateToolUse("toolu_01", "get_weather", """{"city":"Paris"}"""),
            ]),
            ScriptedReply.Text("It is sunny."));
        var client = Sdk();
        var body = Body(Conversation("Weather in Paris?"), """ "thinking":{"type":"enabled","budget_tokens":1024} """, maxTokens: 2000);

        var first = await client.Messages.Create(Params(body));
        var second = await client.Messages.Create(Params(body));
        var third = await client.Messages.Create(Params(body));

        Assert.Equal("tool_use", first.StopReason!.Raw());
        Assert.True(first.Content[0].TryPickThinking(out var thinking));
        Assert.Equal("c2lnbmF0dXJl+/=", thinking!.Signature);
        Assert.True(first.Content[1].TryPickToolUse(out var toolUse));
        Assert.Equal("toolu_01", toolUse!.ID);
        Assert.Equal("Paris", toolUse.Input["city"].GetString());
        // A script without thinking gets the model's own signed thinking first, as a thinking model's reply would.
        Assert.True(second.Content[0].TryPickThinking(out var signed));
        Assert.StartsWith("[emulator]", signed!.Thinking, StringComparison.Ordinal);
        Assert.True(second.Content[1].TryPickText(out var text));
        Assert.Equal("It is sunny.", text!.Text);
        Assert.Equal("end_turn", second.StopReason!.Raw());
        // With thinking on, the default reply starts with a signed thinking block.
        Assert.True(third.Content[0].TryPickThinking(out _));
        Assert.True(third.Content[1].TryPickText(out var defaultText));
        Assert.StartsWith("[emulator] I can see 1 message ", defaultText!.Text);
        Assert.True(first.Usage.OutputTokens > 0);
        Assert.True(first.Usage.OutputTokensDetails!.ThinkingTokens > 0);
    }

    [Fact]
    public async Task Streaming_a_scripted_reply_sends_thinking_signature_and_tool_input_deltas()
    {
        Server.Script.Enqueue(new ScriptedReply([
            ContentBlock.CreateThinking("Need the weather tool.", "sig-123"),
            ContentBlock.CreateText("Checking."),
            ContentBlock.CreateToolUse("toolu_02", "get_weather", """{"city":"Paris","days":[1,2,3],"unit":"celsius"}"""),
        ]));

        var deltaTypes = new HashSet<string>();
        var thinking = new StringBuilder();
        var signature = new StringBuilder();
        var json = new StringBuilder();
        string? stopReason = null;
        await foreach (var ev in Sdk().Messages.CreateStreaming(Params(Body(Conversation("Weather?")))))
        {
            if (ev.TryPickContentBlockDelta(out var d))
            {
                deltaTypes.Add(d.Delta.Type.Raw());
                if (d.Delta.TryPickThinking(out var th))
                {
                    thinking.Append(th.Thinking);
                }
                if (d.Delta.TryPickSignature(out var sg))
                {
                    signature.Append(sg.Signature);
                }
                if (d.Delta.TryPickInputJson(out var ij))
                {
                    json.Append(ij.PartialJson);
                }
            }
            if (ev.TryPickDelta(out var md))
            {
                stopReason = md.Delta.StopReason!.Raw();
            }
        }

        Assert.Equal(["input_json_delta", "signature_delta", "text_delta", "thinking_delta"], deltaTypes.Order());
        Assert.Equal("Need the weather tool.", thinking.ToString());
        Assert.Equal("sig-123", signature.ToString());
        Assert.Equal("""{"city":"Paris","days":[1,2,3],"unit":"celsius"}""", json.ToString());
        Assert.Equal("tool_use", stopReason);
    }

    [Fact]
    public async Task The_request_log_shows_what_the_SDK_sent()
    {
        var body = Body(Conversation("Hello"));

        await Sdk().Messages.Create(Params(body));

        var logged = Assert.Single(Server.Requests.Snapshot());
        Assert.StartsWith("req_", logged.RequestId);
        Assert.Equal("[redacted]", logged.Headers["authorization"]);
        Assert.Equal("2026-10-21", logged.Headers["anthropic-version"]);
        using var sent = JsonDocument.Parse(logged.Body);
        Assert.Equal("Hello", sent.RootElement.GetProperty("messages")[0].GetProperty("content").GetString());
        Assert.False(logged.Stream);
    }

    [Fact]
    public async Task Max_tokens_cuts_the_default_reply_and_says_so()
    {
        var message = await Sdk().Messages.Create(Params(Body(Conversation("Please answer in 300 words."), maxTokens: 12)));

        Assert.Equal("max_tokens", message.StopReason!.Raw());
        Assert.True(message.Usage.OutputTokens <= 12);
    }

    [Fact]
    public async Task A_request_for_many_words_is_padded_deterministically()
    {
        var body = Body(Conversation("Write 300 words about tea."), maxTokens: 4000);
        var client = Sdk();

        var first = await client.Messages.Create(Params(body));
        var second = await client.Messages.Create(Params(body));

        Assert.True(first.Content[0].TryPickText(out var a));
        Assert.True(second.Content[0].TryPickText(out var b));
        Assert.Equal(a!.Text, b!.Text);
        Assert.True(a.Text.Split(' ').Length >= 300);
        Assert.Equal("end_turn", first.StopReason!.Raw());
    }

    [Fact]
    public async Task Stop_sequences_end_the_default_reply()
    {
        var message = await Sdk().Messages.Create(Params(Body(Conversation("Hi"), """ "stop_sequences":["input tokens"] """)));

        Assert.Equal("stop_sequence", message.StopReason!.Raw());
        Assert.Equal("input tokens", message.StopSequence);
        Assert.True(message.Content[0].TryPickText(out var text));
        Assert.DoesNotContain("input tokens", text!.Text);
    }

    [Fact]
    public async Task Prefill_is_continued_on_a_model_that_supports_it()
    {
        var body = Body("""[{"role":"user","content":"Say hi"},{"role":"assistant","content":"Hi"}]""");

        var message = await Sdk().Messages.Create(Params(body));

        Assert.Equal("end_turn", message.StopReason!.Raw());
    }

    [Fact]
    public async Task Max_tokens_zero_warms_the_cache_without_generating()
    {
        var message = await Sdk().Messages.Create(Params(Body(Conversation("Hi"), maxTokens: 0)));

        Assert.Empty(message.Content);
        Assert.Equal(0, message.Usage.OutputTokens);
    }

    [Fact]
    public async Task A_forced_tool_choice_gets_a_tool_call()
    {
        var tools = """ "tools":[{"name":"get_weather","input_schema":{"type":"object"}}],"tool_choice":{"type":"tool","name":"get_weather"} """;

        var message = await Sdk().Messages.Create(Params(Body(Conversation("Weather?"), tools)));

        Assert.Equal("tool_use", message.StopReason!.Raw());
        Assert.True(message.Content[0].TryPickToolUse(out var call));
        Assert.Equal("get_weather", call!.Name);
        Assert.StartsWith("toolu_", call.ID);
    }

    [Fact]
    public async Task A_server_tool_use_answered_in_its_own_turn_needs_no_tool_result()
    {
        // A server tool's result comes back in the same assistant message; only client tool_use needs a tool_result.
        var body = Body("""
            [{"role":"user","content":"News about tea?"},
             {"role":"assistant","content":[
               {"type":"server_tool_use","id":"srvtoolu_01","name":"web_search","input":{"query":"tea news"}},
               {"type":"web_search_tool_result","tool_use_id":"srvtoolu_01","content":[]},
               {"type":"text","text":"Nothing new."}]},
             {"role":"user","content":"Thanks."}]
            """);

        var message = await Sdk().Messages.Create(Params(body));

        Assert.Equal("end_turn", message.StopReason!.Raw());
    }

    [Fact]
    public async Task Streaming_a_text_block_with_citations_sends_them_as_citations_deltas()
    {
        const string citation = """{"type":"char_location","cited_text":"The sky is blue.","document_index":0,"document_title":"Facts","start_char_index":0,"end_char_index":16}""";
        Server.Script.Enqueue(new ScriptedReply([ContentBlock.Parse($$"""{"type":"text","text":"The sky is blue.","citations":[{{citation}}]}""")]));

        var citations = new List<string>();
        var text = new StringBuilder();
        await foreach (var ev in Sdk().Messages.CreateStreaming(Params(Body(Conversation("What colour is the sky?")))))
        {
            if (ev.TryPickContentBlockDelta(out var d) && d.Delta.TryPickCitations(out var c))
            {
                citations.Add(JsonSerializer.Serialize(c.Citation));
            }
            if (ev.TryPickContentBlockDelta(out var t) && t.Delta.TryPickText(out var td))
            {
                text.Append(td.Text);
            }
        }

        var sent = Assert.Single(citations);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(citation), JsonNode.Parse(sent)));
        Assert.Equal("The sky is blue.", text.ToString());
    }
}
