using System.Text.Json;
using ConversationLedger.Tests.TestSupport;

namespace ConversationLedger.Tests.Conversations;

public sealed class RequestOptionsTests
{
    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement;

    [Fact]
    public async Task Tools_and_tool_choice_go_with_the_turn_request_compacted_as_sent()
    {
        var options = TestLedger.PlainLoop();
        options.Tools = Json("""[ { "name": "lookup", "input_schema": { "type": "object" } } ]""");
        options.ToolChoice = Json("""{ "type": "auto" }""");
        var t = new TestLedger(options);

        await t.Conversation.SendAsync("hello");

        var sent = Json(t.Model.Requests.Last().ToJson());
        Assert.Equal("""[{"name":"lookup","input_schema":{"type":"object"}}]""", sent.GetProperty("tools").GetRawText());
        Assert.Equal("auto", sent.GetProperty("tool_choice").GetProperty("type").GetString());
    }

    [Theory]
    [InlineData("""{ "name": "lookup" }""")]
    [InlineData("\"lookup\"")]
    public void Tools_that_are_not_an_array_are_refused_and_leave_the_options_unchanged(string json)
    {
        var options = new LedgerOptions();

        var error = Assert.Throws<ArgumentException>(() => options.Tools = Json(json));

        Assert.Contains("tools must be a JSON array", error.Message, StringComparison.Ordinal);
        Assert.Null(options.Tools);
    }

    [Fact]
    public void A_tool_choice_that_is_not_an_object_is_refused()
    {
        var error = Assert.Throws<ArgumentException>(() => new LedgerOptions { ToolChoice = Json("\"auto\"") });

        Assert.Contains("tool_choice must be a JSON object", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_thinking_budget_below_the_APIs_minimum_is_refused_when_the_ledger_is_made()
    {
        var options = new LedgerOptions { Thinking = ThinkingOptions.WithBudget(1000) };

        var error = Assert.Throws<ArgumentException>(() => new Ledger(new InMemoryConversationStore(), new FakeModel(), options));

        Assert.Contains("thinking budget 1000 is below the API's minimum of 1024 tokens", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_effort_level_the_API_does_not_know_is_refused_when_the_ledger_is_made()
    {
        var options = new LedgerOptions { Effort = "extreme" };

        var error = Assert.Throws<ArgumentException>(() => new Ledger(new InMemoryConversationStore(), new FakeModel(), options));

        Assert.Contains("effort 'extreme' is not one of low, medium, high, max", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_thinking_on_the_prompt_cannot_change_under_an_open_tool_loop_and_nothing_is_stored()
    {
        var options = TestLedger.PlainLoop();
        options.Thinking = ThinkingOptions.Adaptive;
        var t = new TestLedger(options);
        await t.Conversation.SendAsync("hello");
        t.Model.SendAsyncCallback = (_, _) => Task.FromResult(FakeModel.Respond(new Message(Role.Assistant,
            [ContentBlock.CreateThinking("checking", "sig"), ContentBlock.CreateToolUse("toolu_01", "lookup")])));
        await t.Conversation.SendAsync("look it up");
        var before = await t.EntriesAsync();

        var system = await Assert.ThrowsAsync<LedgerException>(() => t.Conversation.SetSystemPromptAsync("Be brief."));
        var edit = await Assert.ThrowsAsync<LedgerException>(() => t.Conversation.EditAsync(1, Message.User("hi")));
        var pin = await Assert.ThrowsAsync<LedgerException>(() => t.Conversation.UnpinAsync(1));

        Assert.Contains("in the middle of a tool loop with thinking on", system.Message, StringComparison.Ordinal);
        Assert.Contains("changing an earlier message", edit.Message, StringComparison.Ordinal);
        Assert.Contains("changing the pins", pin.Message, StringComparison.Ordinal);
        Assert.Equal(before, await t.EntriesAsync());

        // Once the loop is answered, the change goes ahead.
        t.Model.SendAsyncCallback = null;
        await t.Conversation.SendAsync(new Message(Role.User, [ContentBlock.CreateToolResult("toolu_01", "found")]));
        await t.Conversation.SetSystemPromptAsync("Be brief.");
        Assert.Equal("Be brief.", (await t.Conversation.LoadAsync()).SystemPrompt);
    }

    [Fact]
    public async Task A_reply_that_used_a_server_tool_is_a_finished_turn_not_an_open_tool_loop()
    {
        var options = TestLedger.PlainLoop();
        options.Thinking = ThinkingOptions.Adaptive;
        var t = new TestLedger(options);
        t.Model.SendAsyncCallback = (_, _) => Task.FromResult(FakeModel.Respond(new Message(Role.Assistant,
        [
            ContentBlock.Parse("""{"type":"server_tool_use","id":"srvtoolu_01","name":"web_search","input":{"query":"oslo weather"}}"""),
            ContentBlock.Parse("""{"type":"web_search_tool_result","tool_use_id":"srvtoolu_01","content":[]}"""),
            ContentBlock.CreateText("It is 12°C in Oslo."),
        ])));
        var turn = await t.Conversation.SendAsync("What is the weather in Oslo?");

        Assert.False(turn.Reply.Message.CallsTools);
        await t.Conversation.SetSystemPromptAsync("Be brief."); // refused only under an open client tool loop
        t.Model.SendAsyncCallback = null;
        var next = await t.Conversation.SendAsync("And tomorrow?");
        Assert.Equal("And tomorrow?", next.User.Message.Text);
    }
}
