using Anthropic.Models.Messages;

namespace ConversationLedger.Emulator.Tests;

/// <summary>Prompt caching by the published rules, seen through the SDK's usage figures.</summary>
public sealed class CachingTests : EmulatorTestBase
{
    // claude-opus-4-1 caches prefixes of 1,024 tokens or more.
    private static readonly string LongSystem = "You are a careful assistant. " + Words(1500);

    private static string System(string text, string ttl = "5m") =>
        $$$""" "system":[{"type":"text","text":"{{{text}}}","cache_control":{"type":"ephemeral","ttl":"{{{ttl}}}"}}] """;

    [Fact]
    public async Task A_repeated_prefix_is_written_once_then_read()
    {
        var body = Body(Conversation("Hello"), System(LongSystem));
        var client = Sdk();

        var first = (await client.Messages.Create(Params(body))).Usage;
        var second = (await client.Messages.Create(Params(body))).Usage;

        var total = CoreEstimate(body);
        Assert.True(first.CacheCreationInputTokens > 1024);
        Assert.Equal(0, first.CacheReadInputTokens);
        Assert.Equal(first.CacheCreationInputTokens, first.CacheCreation!.Ephemeral5mInputTokens);
        Assert.Equal(total, first.InputTokens + first.CacheCreationInputTokens);
        Assert.Equal(first.CacheCreationInputTokens, second.CacheReadInputTokens);
        Assert.Equal(0, second.CacheCreationInputTokens);
        Assert.Equal(first.InputTokens, second.InputTokens);
    }

    [Fact]
    public async Task A_changed_prefix_is_a_miss()
    {
        var client = Sdk();
        await client.Messages.Create(Params(Body(Conversation("Hello"), System(LongSystem))));

        var changed = (await client.Messages.Create(Params(Body(Conversation("Hello"), System("Changed. " + LongSystem))))).Usage;

        Assert.Equal(0, changed.CacheReadInputTokens);
        Assert.True(changed.CacheCreationInputTokens > 1024);
    }

    [Fact]
    public async Task A_prefix_shorter_than_the_model_minimum_is_silently_not_cached()
    {
        var body = Body(Conversation("Hello"), System("Short system prompt."));
        var client = Sdk();

        var first = (await client.Messages.Create(Params(body))).Usage;
        var second = (await client.Messages.Create(Params(body))).Usage;

        Assert.Equal(0, first.CacheCreationInputTokens);
        Assert.Equal(0, second.CacheReadInputTokens);
        Assert.Equal(CoreEstimate(body), second.InputTokens);
    }

    [Fact]
    public async Task The_minimum_comes_from_the_model_table()
    {
        // claude-opus-5 caches from 512 tokens, claude-haiku-4-5 only from 4,096.
        var system = System("Rules. " + Words(400));
        var client = Sdk();

        var opus = (await client.Messages.Create(Params(Body(Conversation("Hi"), system, model: "claude-opus-5")))).Usage;
        var haiku = (await client.Messages.Create(Params(Body(Conversation("Hi"), system, model: "claude-haiku-4-5")))).Usage;

        Assert.True(opus.CacheCreationInputTokens > 512);
        Assert.Equal(0, haiku.CacheCreationInputTokens);
    }

    [Fact]
    public async Task Entries_expire_after_their_TTL_and_one_hour_entries_last_longer()
    {
        var fiveMinutes = Body(Conversation("Hello"), System(LongSystem));
        var oneHour = Body(Conversation("Hello"), System("Other. " + LongSystem, "1h"));
        var client = Sdk();
        await client.Messages.Create(Params(fiveMinutes));
        var written1h = (await client.Messages.Create(Params(oneHour))).Usage;

        Clock.Advance(TimeSpan.FromMinutes(6));
        var after5m = (await client.Messages.Create(Params(fiveMinutes))).Usage;
        var after1h = (await client.Messages.Create(Params(oneHour))).Usage;

        Assert.Equal(written1h.CacheCreationInputTokens, written1h.CacheCreation!.Ephemeral1hInputTokens);
        Assert.Equal(0, written1h.CacheCreation.Ephemeral5mInputTokens);
        Assert.Equal(0, after5m.CacheReadInputTokens);
        Assert.True(after5m.CacheCreationInputTokens > 0);
        Assert.Equal(written1h.CacheCreationInputTokens, after1h.CacheReadInputTokens);
    }

    [Fact]
    public async Task A_hit_refreshes_the_TTL()
    {
        var body = Body(Conversation("Hello"), System(LongSystem));
        var client = Sdk();
        await client.Messages.Create(Params(body));

        Clock.Advance(TimeSpan.FromMinutes(4));
        await client.Messages.Create(Params(body));
        Clock.Advance(TimeSpan.FromMinutes(4));
        var third = (await client.Messages.Create(Params(body))).Usage;

        Assert.True(third.CacheReadInputTokens > 0);
    }

    [Fact]
    public async Task The_cache_is_kept_per_API_key()
    {
        var body = Body(Conversation("Hello"), System(LongSystem));
        await Sdk(apiKey: "key-a").Messages.Create(Params(body));

        var other = (await Sdk(apiKey: "key-b").Messages.Create(Params(body))).Usage;

        Assert.Equal(0, other.CacheReadInputTokens);
        Assert.True(other.CacheCreationInputTokens > 0);
    }

    [Fact]
    public async Task A_growing_conversation_reads_the_previous_turn_and_writes_only_the_new_part()
    {
        var history = new List<string> { "Please remember this: " + Words(1200) };
        var client = Sdk();
        var turn1Body = Body(Conversation([.. history]), """ "cache_control":{"type":"ephemeral"} """);
        var turn1 = (await client.Messages.Create(Params(turn1Body))).Usage;
        history.Add("Noted.");
        history.Add("Now a follow-up question.");

        var turn2Body = Body(Conversation([.. history]), """ "cache_control":{"type":"ephemeral"} """);
        var turn2 = (await client.Messages.Create(Params(turn2Body))).Usage;

        // Automatic caching marks the last block; the whole of turn 1's prompt was written, then read.
        Assert.Equal(CoreEstimate(turn1Body), turn1.CacheCreationInputTokens);
        Assert.Equal(0, turn1.InputTokens);
        Assert.Equal(turn1.CacheCreationInputTokens, turn2.CacheReadInputTokens);
        Assert.Equal(CoreEstimate(turn2Body) - turn2.CacheReadInputTokens, turn2.CacheCreationInputTokens);
    }

    [Fact]
    public async Task Breakpoints_on_tools_and_messages_split_the_write()
    {
        var tools = $$$""" "tools":[{"name":"lookup","description":"{{{Words(700)}}}","input_schema":{"type":"object"},"cache_control":{"type":"ephemeral","ttl":"1h"}}] """;
        var messages = $$$"""[{"role":"user","content":[{"type":"text","text":"{{{Words(600)}}}","cache_control":{"type":"ephemeral"}}]}]""";
        var body = Body(messages, tools);

        var usage = (await Sdk().Messages.Create(Params(body))).Usage;

        Assert.True(usage.CacheCreation!.Ephemeral1hInputTokens > 1024);
        Assert.True(usage.CacheCreation.Ephemeral5mInputTokens > 600);
        Assert.Equal(CoreEstimate(body), usage.CacheCreationInputTokens + usage.InputTokens);
    }

    [Fact]
    public async Task Count_tokens_does_not_touch_the_cache()
    {
        var client = Sdk();
        await client.Messages.CountTokens(CountParams($$"""{"model":"{{Model}}","messages":{{Conversation("Hello")}},{{System(LongSystem)}}}"""));

        var usage = (await client.Messages.Create(Params(Body(Conversation("Hello"), System(LongSystem))))).Usage;

        Assert.Equal(0, usage.CacheReadInputTokens);
    }

    [Fact]
    public async Task Automatic_caching_marks_the_last_cacheable_block_even_before_an_empty_prefill()
    {
        // The final assistant message is an empty prefill slot, so the last cacheable block is the user's text.
        var userText = global::System.Text.Json.JsonSerializer.Serialize(LongSystem);
        var messages = $$"""[{"role":"user","content":{{userText}}},{"role":"assistant","content":[]}]""";
        var body = Body(messages, """ "cache_control":{"type":"ephemeral"} """);

        var usage = (await Sdk().Messages.Create(Params(body))).Usage;

        Assert.True(usage.CacheCreationInputTokens > 1024);
        Assert.Equal(CoreEstimate(body), usage.CacheCreationInputTokens + usage.InputTokens);
    }
}
