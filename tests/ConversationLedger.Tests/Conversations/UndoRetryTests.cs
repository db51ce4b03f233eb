using ConversationLedger.Tests.TestSupport;
using static ConversationLedger.Tests.TestSupport.Build;

namespace ConversationLedger.Tests.Conversations;

public sealed class UndoRetryTests
{
    private static async Task<TestLedger> TwoTurnsAsync(LedgerOptions? options = null, [System.Runtime.CompilerServices.CallerMemberName] string thread = "")
    {
        var t = new TestLedger(options, thread: thread);
        await t.Conversation.SendAsync("One");   // entries 1 user, 2 reply, 3 usage
        await t.Conversation.SendAsync("Two");   // entries 4 user, 5 reply, 6 usage
        return t;
    }

    private static async Task<List<TurnUpdate>> DrainAsync(IAsyncEnumerable<TurnUpdate> updates)
    {
        var all = new List<TurnUpdate>();
        await foreach (var update in updates)
        {
            all.Add(update);
        }
        return all;
    }

    [Fact]
    public async Task Undo_withdraws_the_newest_turn_and_the_next_request_is_sent_without_it()
    {
        var t = await TwoTurnsAsync();

        var withdrawn = await t.Conversation.UndoAsync();
        await t.Conversation.SendAsync("Three");

        Assert.Equal([4L, 5L], withdrawn.Select(m => m.Sequence));
        Assert.Equal([User("One"), Assistant("reply 1"), User("Three")], t.Model.Requests.Last().Messages);
    }

    [Fact]
    public async Task Undo_keeps_every_entry_and_records_one_retraction_per_withdrawn_message()
    {
        var t = await TwoTurnsAsync();
        var before = await t.EntriesAsync();

        await t.Conversation.UndoAsync();

        var after = await t.EntriesAsync();
        Assert.Equal(before, after.Take(before.Count));
        Assert.Equal([(4L, true), (5L, true)], after.Skip(before.Count).Cast<EditEntry>().Select(e => (e.Target, e.Retracted)));
        Assert.Equal([User("One"), Assistant("reply 1")], await t.MessagesAsync());
    }

    [Fact]
    public async Task Undo_twice_withdraws_two_turns_and_a_thread_without_turns_has_nothing_to_take_back()
    {
        var t = await TwoTurnsAsync();

        await t.Conversation.UndoAsync();
        await t.Conversation.UndoAsync();
        var error = await Assert.ThrowsAsync<LedgerException>(() => t.Conversation.UndoAsync());

        Assert.Empty(await t.MessagesAsync());
        Assert.Contains("has no turn since its last reset to take back", error.Message);
    }

    [Fact]
    public async Task Undo_withdraws_a_whole_tool_loop()
    {
        var t = new TestLedger();
        await t.Conversation.SendAsync("One");
        t.Model.SendAsyncCallback = (_, _) => Task.FromResult(FakeModel.Respond(Assistant(ToolUse("toolu_1"))));
        await t.Conversation.SendAsync("Weather?");
        t.Model.SendAsyncCallback = null;
        await t.Conversation.SendAsync(User(ToolResult("toolu_1")));

        var withdrawn = await t.Conversation.UndoAsync();

        Assert.Equal(4, withdrawn.Count);
        Assert.Equal([User("One"), Assistant("reply 1")], await t.MessagesAsync());
    }

    [Fact]
    public async Task A_windowed_policy_keeps_the_messages_before_a_withdrawn_turn()
    {
        var options = TestLedger.PlainLoop();
        options.HistoryPolicy = HistoryPolicies.Parse("window:20/2");
        var t = await TwoTurnsAsync(options);

        await t.Conversation.UndoAsync();
        await t.Conversation.SendAsync("Three");
        await t.Conversation.SendAsync("Four");

        // The ordinals of the withdrawn turn are a gap in the ledger, not in the conversation.
        Assert.Equal(["One", "reply 1", "Three", "reply 3", "Four"], t.Model.Requests.Last().Messages.Select(m => m.Text));
    }

    [Fact]
    public async Task Retry_regenerates_the_newest_reply_and_withdraws_the_old_turn_in_the_same_append()
    {
        var t = await TwoTurnsAsync();
        var before = await t.EntriesAsync();

        var updates = await DrainAsync(t.Conversation.StreamRetryAsync());

        var committed = Assert.IsType<TurnCommitted>(updates[^1]);
        Assert.Equal([User("One"), Assistant("reply 1"), User("Two")], t.Model.Requests.Last().Messages);
        // The third call (two turns, then the retry) regenerated the reply.
        Assert.Equal([User("One"), Assistant("reply 1"), User("Two"), Assistant("reply 3")], await t.MessagesAsync());
        var after = await t.EntriesAsync();
        Assert.Equal(before, after.Take(before.Count));
        var retractions = after.OfType<EditEntry>().ToArray();
        Assert.Equal([4L, 5L], retractions.Select(e => e.Target));
        Assert.All(retractions, e => Assert.Equal(committed.Turn.TurnId, e.TurnId));
    }

    [Fact]
    public async Task A_retry_that_fails_leaves_the_thread_as_it_was()
    {
        var t = await TwoTurnsAsync();
        var before = await t.EntriesAsync();
        t.Model.StreamAsyncCallback = (_, _) => throw new ModelCallException("Overloaded", 529, "overloaded_error", "req_1");

        await Assert.ThrowsAsync<ModelCallException>(() => DrainAsync(t.Conversation.StreamRetryAsync()));

        Assert.Equal(before, await t.EntriesAsync());
    }

    [Fact]
    public async Task A_retried_first_exchange_is_pinned_as_the_first_exchange_was()
    {
        var options = TestLedger.PlainLoop();
        options.PinFirstExchange = true;
        var t = new TestLedger(options);
        await t.Conversation.SendAsync("One");

        await DrainAsync(t.Conversation.StreamRetryAsync());

        var view = await t.Conversation.LoadAsync();
        Assert.All(view.Messages, m => Assert.True(m.Pinned));
        Assert.Equal(2, view.Messages.Count);
    }

    [Fact]
    public async Task A_summary_leaves_out_withdrawn_turns()
    {
        var options = TestLedger.PlainLoop();
        options.HistoryPolicy = HistoryPolicies.Parse("summarize:2/2");
        var t = new TestLedger(options);
        await t.Conversation.SendAsync("One");
        await t.Conversation.SendAsync("Secret");
        await t.Conversation.UndoAsync();
        await t.Conversation.SendAsync("Two");
        await t.Conversation.SendAsync("Three");

        var summaryRequests = t.Model.Requests.Where(r => r.System.Any(b => b.Text?.Contains("running summary", StringComparison.Ordinal) == true)).ToArray();

        Assert.NotEmpty(summaryRequests);
        Assert.DoesNotContain(summaryRequests.SelectMany(r => r.Messages), m => m.Text.Contains("Secret", StringComparison.Ordinal));
    }
}
