using System.Text.Json;
using ConversationLedger.Tests.TestSupport;

namespace ConversationLedger.Tests.Conversations;

public sealed class TurnOptionsTests
{
    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement;

    [Fact]
    public async Task Turn_options_override_the_ledgers_settings_for_that_turn_only()
    {
        var t = new TestLedger();
        await t.Conversation.SendAsync("one");
        await t.Conversation.SendAsync("two");

        await t.Conversation.SendAsync(Message.User("three"), new TurnOptions
        {
            Model = "claude-haiku-4-5",
            MaxTokens = 77,
            Policy = SlidingWindowPolicy.TruncateOldest(messages: 2),
            Effort = "low",
            Tools = Json("""[ { "name": "lookup", "input_schema": { "type": "object" } } ]"""),
        });
        await t.Conversation.SendAsync("four");

        var requests = t.Model.Requests.ToArray();
        var overridden = requests[2];
        Assert.Equal("claude-haiku-4-5", overridden.Model);
        Assert.Equal(77, overridden.MaxTokens);
        Assert.Equal(3, overridden.Messages.Count); // the window of two, then the new message
        Assert.Equal("""[{"name":"lookup","input_schema":{"type":"object"}}]""", overridden.Tools!.Value.GetRawText());
        var next = requests[3];
        Assert.Equal(t.Ledger.Options.Model, next.Model);
        Assert.Equal(t.Ledger.Options.MaxTokens, next.MaxTokens);
        Assert.Equal(7, next.Messages.Count);
        Assert.Null(next.Tools);
    }

    [Fact]
    public async Task Streaming_and_previews_take_turn_options_too()
    {
        var t = new TestLedger();

        var preview = await t.Conversation.PreviewAsync(Message.User("hi"), new TurnOptions { MaxTokens = 99 });
        await foreach (var _ in t.Conversation.StreamAsync(Message.User("hi"), new TurnOptions { MaxTokens = 55 }))
        {
        }

        Assert.Equal(99, preview.Request.MaxTokens);
        Assert.Equal(55, t.Model.Requests.Single().MaxTokens);
    }

    [Fact]
    public async Task Invalid_turn_options_are_refused_naming_the_setting_and_nothing_is_sent()
    {
        var t = new TestLedger();

        var maxTokens = await Assert.ThrowsAsync<ArgumentOutOfRangeException>("options",
            () => t.Conversation.SendAsync(Message.User("hi"), new TurnOptions { MaxTokens = 0 }));
        var effort = Assert.Throws<ArgumentException>("options",
            () => t.Conversation.StreamAsync(Message.User("hi"), new TurnOptions { Effort = "extreme" }));
        var tools = await Assert.ThrowsAsync<ArgumentException>("options",
            () => t.Conversation.SendAsync(Message.User("hi"), new TurnOptions { Tools = Json("{}") }));

        Assert.Contains("TurnOptions.MaxTokens must be positive", maxTokens.Message, StringComparison.Ordinal);
        Assert.Contains("TurnOptions.Effort must be one of low, medium, high, max", effort.Message, StringComparison.Ordinal);
        Assert.Contains("tools must be a JSON array", tools.Message, StringComparison.Ordinal);
        Assert.Equal(0, t.Model.Calls);
        Assert.Empty(await t.EntriesAsync());
    }

    [Fact]
    public void Options_become_read_only_once_a_ledger_uses_them_and_a_clone_is_writable()
    {
        var options = new LedgerOptions { MaxTokens = 100 };
        var ledger = new Ledger(new InMemoryConversationStore(), new FakeModel(), options);

        var error = Assert.Throws<InvalidOperationException>(() => options.MaxTokens = 5);
        var copy = ledger.Options.Clone();
        copy.MaxTokens = 5;

        Assert.Contains("TurnOptions", error.Message, StringComparison.Ordinal);
        Assert.True(ledger.Options.IsReadOnly);
        Assert.Equal(100, ledger.Options.MaxTokens);
        Assert.Equal(5, copy.MaxTokens);
    }

    [Fact]
    public void Validate_names_each_setting_that_is_wrong()
    {
        var options = new LedgerOptions { MaxTokens = 0, Policy = "sideways", CacheTtl = "2h", WarnAtFill = 1.5, Thinking = ThinkingOptions.WithBudget(10) };

        var problems = options.Validate();

        Assert.Equal(5, problems.Count);
        Assert.StartsWith("MaxTokens must be positive, not 0", problems[0], StringComparison.Ordinal);
        Assert.StartsWith("Policy: unknown history policy \"sideways\"", problems[1], StringComparison.Ordinal);
        Assert.StartsWith("Thinking:BudgetTokens must be at least 1024", problems[2], StringComparison.Ordinal);
        Assert.StartsWith("CacheTtl must be 5m or 1h", problems[3], StringComparison.Ordinal);
        Assert.StartsWith("WarnAtFill must be above 0 and at most 1", problems[4], StringComparison.Ordinal);
        Assert.Empty(new LedgerOptions().Validate());
    }

    [Fact]
    public void A_policy_named_by_its_spec_is_the_ledgers_policy_and_one_set_in_code_wins()
    {
        var named = new Ledger(new InMemoryConversationStore(), new FakeModel(), new LedgerOptions { Policy = "keep-all" });
        var inCode = new Ledger(new InMemoryConversationStore(), new FakeModel(),
            new LedgerOptions { Policy = "keep-all", HistoryPolicy = LedgerOptions.DefaultPolicy });

        Assert.Same(KeepAllPolicy.Instance, named.Policy);
        Assert.Same(LedgerOptions.DefaultPolicy, inCode.Policy);
    }
}
