namespace ConversationLedger.Tests.Policies;

public sealed class HistoryPoliciesTests
{
    [Theory]
    [InlineData("default", "summarize(window(12 messages, step 24, pins))")]
    [InlineData("keep-all", "keep-all")]
    [InlineData("guide", "window(18 messages, pins)")]
    [InlineData("guide:10", "window(8 messages, pins)")]
    [InlineData("truncate:30", "window(30 messages)")]
    [InlineData("truncate:8000t", "window(8000 tokens)")]
    [InlineData("window:16/8", "window(16 messages, step 8, pins)")]
    [InlineData("summarize:12", "summarize(window(12 messages, pins))")]
    [InlineData("summarize:8000t/2000t", "summarize(window(8000 tokens, step 2000 tokens, pins))")]
    [InlineData("window:500t", "window(500 tokens, pins)")]
    [InlineData("keep-last-tokens:1200", "keep-last-tokens(1200)")]
    public void A_policy_name_gives_that_policy(string spec, string described)
    {
        Assert.Equal(described, HistoryPolicies.Parse(spec).ToString());
    }

    [Theory]
    [InlineData("sliding")]
    [InlineData("window")]
    [InlineData("window:0")]
    [InlineData("truncate:x")]
    [InlineData("keep-all:3")]
    public void A_bad_policy_name_is_refused_with_the_accepted_forms(string spec)
    {
        var error = Assert.Throws<ArgumentException>("spec", () => HistoryPolicies.Parse(spec));

        Assert.Contains(spec, error.Message, StringComparison.Ordinal);
    }
}
