using ConversationLedger.Tests.TestSupport;
using static ConversationLedger.Tests.TestSupport.Build;

namespace ConversationLedger.Tests.Conversations;

public sealed class ConversationSendTests
{
    [Fact]
    public async Task Send_commits_the_user_message_the_reply_and_the_usage_with_one_turn_id()
    {
        var t = new TestLedger();

        var turn = await t.Conversation.SendAsync("What is JWT?");

        var entries = await t.EntriesAsync();
        Assert.Collection(entries,
            e => Assert.Equal(Message.User("What is JWT?"), Assert.IsType<MessageEntry>(e).Message),
            e => Assert.Equal(Message.Assistant("reply 1"), Assert.IsType<MessageEntry>(e).Message),
            e => Assert.Equal("claude-sonnet-5-5", Assert.IsType<UsageEntry>(e).Record.Model));
        Assert.All(entries, e => Assert.Equal(turn.TurnId, e.TurnId));
        Assert.Equal([1L, 2L, 3L], entries.Select(e => e.Sequence));
    }

    [Fact]
    public async Task Send_returns_the_turn_as_it_was_stored()
    {
        var t = new TestLedger();

        var turn = await t.Conversation.SendAsync("What is JWT?");

        Assert.Equal("reply 1", turn.ReplyText);
        Assert.Equal("end_turn", turn.StopReason);
        Assert.Equal(1, turn.MessagesSent);
        Assert.Equal(1_000_000, turn.ContextWindow);
        Assert.Equal(3, turn.Head.LastSequence);
        Assert.Equal(2, turn.Reply.Sequence);
        Assert.Equal((10m * 2m + 5m * 10m) / 1_000_000m, turn.CostUsd);
        Assert.Equal("req_test", turn.UsageEntry.Record.RequestId);
        Assert.True(turn.User.Tokens > 0);
        Assert.Equal(turn.User.Tokens + turn.Reply.Tokens, turn.Head.RunningTokens);
    }

    [Fact]
    public async Task Send_carries_the_system_prompt_outside_the_messages_and_the_whole_history()
    {
        var t = new TestLedger();
        await t.Conversation.SetSystemPromptAsync("You are a senior software architect.");
        await t.Conversation.SendAsync("Flask auth?");
        await t.Conversation.SendAsync("Show me the middleware.");

        await t.Conversation.SendAsync("How do I refresh tokens?");

        var request = t.Model.Requests.Last();
        Assert.Equal([ContentBlock.CreateText("You are a senior software architect.")], request.System);
        Assert.Equal(
            [User("Flask auth?"), Assistant("reply 1"), User("Show me the middleware."), Assistant("reply 2"), User("How do I refresh tokens?")],
            request.Messages);
        Assert.DoesNotContain(request.Messages, m => m.Role == Role.System);
        Assert.Equal("claude-sonnet-5-5", request.Model);
        Assert.Equal(1024, request.MaxTokens);
    }

    [Fact]
    public async Task Send_without_a_system_prompt_sends_no_system_blocks()
    {
        var t = new TestLedger();

        await t.Conversation.SendAsync("Hi");

        Assert.Empty(Assert.Single(t.Model.Requests).System);
    }

    [Fact]
    public async Task Send_leaves_the_ledger_unchanged_when_the_model_call_fails()
    {
        var t = new TestLedger();
        await t.Conversation.SendAsync("First");
        var before = await t.EntriesAsync();
        t.Model.SendAsyncCallback = (_, _) => throw new ModelCallException("Overloaded", 529, "overloaded_error", "req_9");

        var ex = await Assert.ThrowsAsync<ModelCallException>(() => t.Conversation.SendAsync("Second"));

        Assert.Equal(529, ex.StatusCode);
        Assert.Equal(before, await t.EntriesAsync());
    }

    [Fact]
    public async Task Send_leaves_the_ledger_unchanged_when_the_call_is_cancelled_in_flight()
    {
        var t = new TestLedger();
        await t.Conversation.SendAsync("First");
        var before = await t.EntriesAsync();
        using var cts = new CancellationTokenSource();
        t.Model.SendAsyncCallback = async (_, ct) =>
        {
            await cts.CancelAsync();
            await Task.Delay(Timeout.Infinite, ct);
            throw new InvalidOperationException("unreachable");
        };

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => t.Conversation.SendAsync("Second", cts.Token));

        Assert.Equal(before, await t.EntriesAsync());
    }

    [Fact]
    public async Task Send_stores_nothing_when_cancelled_after_the_model_answered()
    {
        var t = new TestLedger();
        using var cts = new CancellationTokenSource();
        t.Model.SendAsyncCallback = async (_, _) =>
        {
            await cts.CancelAsync();
            return FakeModel.Respond("too late");
        };

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => t.Conversation.SendAsync("Hi", cts.Token));

        Assert.Empty(await t.EntriesAsync());
    }

    [Fact]
    public async Task Send_with_a_cancelled_token_never_calls_the_model()
    {
        var t = new TestLedger();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => t.Conversation.SendAsync("Hi", new CancellationToken(canceled: true)));

        Assert.Equal(0, t.Model.Calls);
        Assert.Empty(await t.EntriesAsync());
    }

    [Fact]
    public async Task Send_never_calls_the_model_when_the_request_would_be_invalid()
    {
        var t = new TestLedger();
        await t.Conversation.SendAsync("First");
        var before = await t.EntriesAsync();

        var ex = await Assert.ThrowsAsync<LedgerValidationException>(() => t.Conversation.SendAsync(User(ToolResult("toolu_01"))));

        var violation = Assert.Single(ex.Violations);
        Assert.Equal(ValidationRule.ToolResultWithoutToolUse, violation.Rule);
        Assert.Equal(2, violation.MessageIndex);
        Assert.Equal(1, t.Model.Calls);
        Assert.Equal(before, await t.EntriesAsync());
    }

    [Fact]
    public async Task Send_never_calls_the_model_for_an_empty_message()
    {
        var t = new TestLedger();

        var ex = await Assert.ThrowsAsync<LedgerValidationException>(() => t.Conversation.SendAsync(""));

        Assert.Equal(ValidationRule.EmptyText, Assert.Single(ex.Violations).Rule);
        Assert.Equal(0, t.Model.Calls);
    }

    [Fact]
    public async Task Send_after_a_tool_use_reply_needs_the_tool_result_first()
    {
        var t = new TestLedger();
        t.Model.SendAsyncCallback = (_, _) => Task.FromResult(FakeModel.Respond(Assistant(Text("Checking."), ToolUse("toolu_01"))));
        await t.Conversation.SendAsync("Weather in Oslo?");
        t.Model.SendAsyncCallback = null;

        var ex = await Assert.ThrowsAsync<LedgerValidationException>(() => t.Conversation.SendAsync("Hello?"));
        var turn = await t.Conversation.SendAsync(User(ToolResult("toolu_01")));

        Assert.Equal(ValidationRule.ToolUseNotAnswered, Assert.Single(ex.Violations).Rule);
        Assert.Equal(3, turn.MessagesSent);
        Assert.Equal(2, t.Model.Calls);
    }

    [Fact]
    public async Task Send_does_not_store_a_reply_without_content()
    {
        var t = new TestLedger();
        t.Model.SendAsyncCallback = (_, _) => Task.FromResult(FakeModel.Respond(new Message(Role.Assistant, [])));

        var ex = await Assert.ThrowsAsync<ModelCallException>(() => t.Conversation.SendAsync("Hi"));

        Assert.Contains("message 1: has no content", ex.Message, StringComparison.Ordinal);
        // Nothing of the turn; the billed call is in the usage log, marked as refused.
        Assert.Equal("refused", Assert.IsType<UsageEntry>(Assert.Single(await t.EntriesAsync())).Record.Uncommitted);
    }

    [Fact]
    public async Task Send_does_not_store_a_reply_that_is_not_from_the_assistant()
    {
        var t = new TestLedger();
        t.Model.SendAsyncCallback = (_, _) => Task.FromResult(FakeModel.Respond(User("I am not the assistant")));

        var ex = await Assert.ThrowsAsync<ModelCallException>(() => t.Conversation.SendAsync("Hi"));

        Assert.Contains("two user messages in a row", ex.Message, StringComparison.Ordinal);
        // Nothing of the turn; the billed call is in the usage log, marked as refused.
        Assert.Equal("refused", Assert.IsType<UsageEntry>(Assert.Single(await t.EntriesAsync())).Record.Uncommitted);
    }

    [Fact]
    public async Task Send_does_not_store_a_reply_that_ends_with_thinking()
    {
        var t = new TestLedger();
        t.Model.SendAsyncCallback = (_, _) => Task.FromResult(FakeModel.Respond(Assistant(Thinking())));

        await Assert.ThrowsAsync<ModelCallException>(() => t.Conversation.SendAsync("Hi"));

        // Nothing of the turn; the billed call is in the usage log, marked as refused.
        Assert.Equal("refused", Assert.IsType<UsageEntry>(Assert.Single(await t.EntriesAsync())).Record.Uncommitted);
    }

    [Fact]
    public async Task Send_stores_a_reply_with_thinking_and_unknown_blocks_verbatim()
    {
        var t = new TestLedger();
        var reply = Message.Parse(RawJson.AssistantMessage);
        t.Model.SendAsyncCallback = (_, _) => Task.FromResult(FakeModel.Respond(reply));

        await t.Conversation.SendAsync("Think hard.");
        await t.Conversation.SendAsync("And now?");

        Assert.Equal(RawJson.AssistantBlocks, t.Model.Requests.Last().Messages[1].Content.Select(b => b.Json));
    }

    [Fact]
    public async Task Send_rejects_a_message_that_is_not_a_user_message()
    {
        var t = new TestLedger();

        await Assert.ThrowsAsync<ArgumentException>("userMessage", () => t.Conversation.SendAsync(Assistant("Hi")));
        await Assert.ThrowsAsync<ArgumentNullException>("userMessage", () => t.Conversation.SendAsync((Message)null!));
        Assert.Equal(0, t.Model.Calls);
    }

    [Fact]
    public async Task Load_rejects_a_stored_history_that_breaks_strict_alternation()
    {
        var t = new TestLedger();
        await t.Store.AppendAsync(t.Key, 0, [new MessageEntry(User("one")), new MessageEntry(User("two"))]);

        var ex = await Assert.ThrowsAsync<LedgerValidationException>(() => t.Conversation.LoadAsync());

        Assert.Equal(ValidationRule.RolesNotAlternating, Assert.Single(ex.Violations).Rule);
    }

    [Fact]
    public void Ledger_guards_its_arguments_naming_them()
    {
        var store = new InMemoryConversationStore();
        var model = new FakeModel();

        Assert.Throws<ArgumentNullException>("store", () => new ConversationLedger.Ledger(null!, model));
        Assert.Throws<ArgumentNullException>("model", () => new ConversationLedger.Ledger(store, null!));
        Assert.Throws<ArgumentOutOfRangeException>("options", () => new ConversationLedger.Ledger(store, model, new LedgerOptions { MaxTokens = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>("options", () => new ConversationLedger.Ledger(store, model, new LedgerOptions { MaxConflictRetries = -1 }));
        Assert.Throws<ArgumentException>("options", () => new ConversationLedger.Ledger(store, model, new LedgerOptions { Model = " " }));
        Assert.Throws<ArgumentNullException>("key", () => new ConversationLedger.Ledger(store, model).Open(null!));
    }
}
