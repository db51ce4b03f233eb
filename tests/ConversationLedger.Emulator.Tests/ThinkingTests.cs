using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ConversationLedger.Emulator.Tests;

/// <summary>Thinking blocks the emulator signs are bound to the prompt they answered, as on the newest models.</summary>
public sealed class ThinkingTests : EmulatorTestBase
{
    private const string Thinking = """ "thinking":{"type":"enabled","budget_tokens":1024} """;

    [Fact]
    public async Task An_append_only_history_sends_its_thinking_blocks_back_without_trouble()
    {
        var (history, reply) = await FirstTurnAsync();
        history.Add(reply);
        history.Add(new JsonObject { ["role"] = "user", ["content"] = "And then?" });

        using var response = await PostAsync("/v1/messages", Body(history.ToJsonString(), Thinking, maxTokens: 2000));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Changing_anything_before_a_thinking_block_invalidates_its_signature()
    {
        var (history, reply) = await FirstTurnAsync();
        history[0] = new JsonObject { ["role"] = "user", ["content"] = "A summary of what came before." };
        history.Add(reply);
        history.Add(new JsonObject { ["role"] = "user", ["content"] = "And then?" });

        using var response = await PostAsync("/v1/messages", Body(history.ToJsonString(), Thinking, maxTokens: 2000));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("messages.1.content.0: Invalid `signature` in `thinking` block",
            (await JsonAsync(response)).GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task Editing_the_thinking_text_invalidates_its_signature()
    {
        var (history, reply) = await FirstTurnAsync();
        reply["content"]![0]!["thinking"] = "Something else entirely.";
        history.Add(reply);
        history.Add(new JsonObject { ["role"] = "user", ["content"] = "And then?" });

        using var response = await PostAsync("/v1/messages", Body(history.ToJsonString(), Thinking, maxTokens: 2000));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task Editing_the_thinking_text_of_the_latest_assistant_turn_is_refused_as_a_modification()
    {
        var (history, reply) = await FirstTurnAsync();
        reply["content"]![0]!["thinking"] = "Something else entirely.";
        history.Add(reply);
        history.Add(new JsonObject { ["role"] = "user", ["content"] = "And then?" });
        var later = JsonNode.Parse(history.ToJsonString())!.AsArray();
        later.Add(new JsonObject { ["role"] = "assistant", ["content"] = "A plain answer." });
        later.Add(new JsonObject { ["role"] = "user", ["content"] = "More?" });

        using var latest = await PostAsync("/v1/messages", Body(history.ToJsonString(), Thinking, maxTokens: 2000));
        using var earlier = await PostAsync("/v1/messages", Body(later.ToJsonString(), Thinking, maxTokens: 2000));

        Assert.Equal("messages.1.content.0: `thinking` or `redacted_thinking` blocks in the latest assistant message cannot be modified. " +
            "These blocks must remain as they were in the original response.",
            (await JsonAsync(latest)).GetProperty("error").GetProperty("message").GetString());
        Assert.Equal("messages.1.content.0: Invalid `signature` in `thinking` block",
            (await JsonAsync(earlier)).GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task Moving_cache_breakpoints_or_asking_to_drop_mismatched_blocks_is_accepted()
    {
        var (history, reply) = await FirstTurnAsync();
        history[0]!["content"] = new JsonArray(new JsonObject
        {
            ["type"] = "text", ["text"] = "Tell me a story.", ["cache_control"] = new JsonObject { ["type"] = "ephemeral" },
        });
        history.Add(reply);
        history.Add(new JsonObject { ["role"] = "user", ["content"] = "And then?" });
        var changed = JsonNode.Parse(history.ToJsonString())!.AsArray();
        changed[0] = new JsonObject { ["role"] = "user", ["content"] = "A summary." };
        var drop = """ "thinking":{"type":"enabled","budget_tokens":1024,"block_binding":{"prefix_mismatch_behavior":"drop_block"}} """;

        using var moved = await PostAsync("/v1/messages", Body(history.ToJsonString(), Thinking, maxTokens: 2000));
        using var dropped = await PostAsync("/v1/messages", Body(changed.ToJsonString(), drop, maxTokens: 2000));

        Assert.Equal(HttpStatusCode.OK, moved.StatusCode);
        Assert.Equal(HttpStatusCode.OK, dropped.StatusCode);
    }

    private async Task<(JsonArray History, JsonObject Reply)> FirstTurnAsync()
    {
        var history = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Tell me a story." });
        using var first = await PostAsync("/v1/messages", Body(history.ToJsonString(), Thinking, maxTokens: 2000));
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var json = JsonNode.Parse(await first.Content.ReadAsStringAsync())!;
        Assert.Equal("thinking", json["content"]![0]!["type"]!.GetValue<string>());
        Assert.StartsWith(ThinkingSignatures.Prefix, json["content"]![0]!["signature"]!.GetValue<string>());
        var reply = new JsonObject { ["role"] = "assistant", ["content"] = JsonNode.Parse(json["content"]!.ToJsonString()) };
        return (history, reply);
    }
}
