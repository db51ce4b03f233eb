using System.Text.Json;

namespace ConversationLedger.Tests.Model;

public sealed class TokenUsageTests
{
    private const string FullUsage = """
        {
          "input_tokens": 11,
          "output_tokens": 22,
          "cache_creation_input_tokens": 33,
          "cache_read_input_tokens": 44,
          "cache_creation": { "ephemeral_5m_input_tokens": 13, "ephemeral_1h_input_tokens": 20 },
          "output_tokens_details": { "thinking_tokens": 7 },
          "server_tool_use": { "web_search_requests": 2, "web_fetch_requests": 1 },
          "service_tier": "priority"
        }
        """;

    private static TokenUsage ParseJson(string json)
    {
        using var document = JsonDocument.Parse(json);
        return TokenUsage.Parse(document.RootElement);
    }

    [Fact]
    public void Parse_reads_every_usage_field_the_api_reports()
    {
        var usage = ParseJson(FullUsage);

        Assert.Equal(11, usage.InputTokens);
        Assert.Equal(22, usage.OutputTokens);
        Assert.Equal(33, usage.CacheCreationInputTokens);
        Assert.Equal(44, usage.CacheReadInputTokens);
        Assert.Equal(13, usage.CacheCreation5mInputTokens);
        Assert.Equal(20, usage.CacheCreation1hInputTokens);
        Assert.Equal(7, usage.ThinkingTokens);
        Assert.Equal(2, usage.ServerToolUse["web_search_requests"]);
        Assert.Equal(1, usage.ServerToolUse["web_fetch_requests"]);
        Assert.Equal("priority", usage.ServiceTier);
    }

    [Fact]
    public void Total_input_tokens_are_input_plus_cache_writes_plus_cache_reads()
    {
        Assert.Equal(11 + 33 + 44, ParseJson(FullUsage).TotalInputTokens);
    }

    [Fact]
    public void WriteTo_then_Parse_gives_back_every_field()
    {
        var usage = ParseJson(FullUsage);

        var again = ParseJson(usage.ToJson());

        Assert.Equal(usage, again);
        Assert.Equal(usage.ServerToolUse, again.ServerToolUse);
        Assert.Equal("priority", again.ServiceTier);
        Assert.Equal(7, again.ThinkingTokens);
    }

    [Fact]
    public void ToJson_writes_the_api_shape()
    {
        var usage = new TokenUsage
        {
            InputTokens = 1, OutputTokens = 2, CacheCreationInputTokens = 3, CacheReadInputTokens = 4,
            CacheCreation5mInputTokens = 1, CacheCreation1hInputTokens = 2, ThinkingTokens = 1,
            ServerToolUse = new Dictionary<string, long> { ["web_search_requests"] = 5 }, ServiceTier = "standard",
        };

        Assert.Equal(
            """{"input_tokens":1,"output_tokens":2,"cache_creation_input_tokens":3,"cache_read_input_tokens":4,"cache_creation":{"ephemeral_5m_input_tokens":1,"ephemeral_1h_input_tokens":2},"output_tokens_details":{"thinking_tokens":1},"server_tool_use":{"web_search_requests":5},"service_tier":"standard"}""",
            usage.ToJson());
    }

    [Fact]
    public void Parse_treats_missing_fields_as_zero()
    {
        var usage = ParseJson("""{"input_tokens":5}""");

        Assert.Equal(new TokenUsage { InputTokens = 5 }, usage);
        Assert.Null(usage.ServiceTier);
        Assert.Empty(usage.ServerToolUse);
    }

    [Fact]
    public void Parse_of_something_that_is_not_an_object_is_empty_usage()
    {
        Assert.Equal(new TokenUsage(), ParseJson("null"));
    }

    [Fact]
    public void Usages_differing_in_any_field_are_not_equal()
    {
        var usage = ParseJson(FullUsage);

        Assert.NotEqual(usage, usage with { ThinkingTokens = 8 });
        Assert.NotEqual(usage, usage with { ServiceTier = null });
        Assert.NotEqual(usage, usage with { CacheCreation1hInputTokens = 0 });
        Assert.NotEqual(usage, usage with { ServerToolUse = new Dictionary<string, long>() });
    }
}
