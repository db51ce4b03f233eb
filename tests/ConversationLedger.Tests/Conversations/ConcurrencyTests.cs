using ConversationLedger.Tests.TestSupport;

namespace ConversationLedger.Tests.Conversations;

public sealed class ConcurrencyTests
{
    private static Func<ModelRequest, CancellationToken, Task<ModelResponse>> AnswerAfter(Gate gate) => async (request, ct) =>
    {
        await gate.PassAsync(ct);
        return FakeModelClient.Respond("re: " + request.Messages[^1].Text);
    };

    [Fact]
    public async Task Two_concurrent_sends_on_one_thread_commit_one_and_reject_the_other()
    {
        // Given two sends whose model calls are both in flight
        var t = new TestLedger();
        var gate = new Gate(expected: 2);
        t.Model.SendAsyncCallback = AnswerAfter(gate);
        var first = Outcome.Of(t.Conversation.SendAsync("A"));
        var second = Outcome.Of(t.Conversation.SendAsync("B"));
        await gate.AllArrived;

        // When both answers arrive
        gate.Open();
        var outcomes = await Task.WhenAll(first, second);

        // Then one turn is committed and the other is refused, with nothing of it stored
        var won = Assert.Single(outcomes, o => o.Turn is not null);
        var lost = Assert.IsType<ConcurrencyConflictException>(Assert.Single(outcomes, o => o.Error is not null).Error);
        Assert.Equal(0, lost.ExpectedSequence);
        Assert.Equal(3, lost.ActualSequence);
        Assert.Equal(t.Key, lost.Key);
        var messages = await t.MessagesAsync();
        Assert.Equal([won.Turn!.User.Message, won.Turn.Reply.Message], messages);
        Assert.Equal(3, (await t.EntriesAsync()).Count);
    }

    [Fact]
    public async Task With_wait_and_retry_two_concurrent_sends_both_commit_in_order()
    {
        var t = new TestLedger(TestLedger.PlainLoop(ConflictHandling.WaitAndRetry));
        var gate = new Gate(expected: 1);
        t.Model.SendAsyncCallback = AnswerAfter(gate);
        var first = t.Conversation.SendAsync("A");
        var second = t.Conversation.SendAsync("B");
        await gate.AllArrived;
        Assert.Equal(1, gate.Arrived); // the second send waits for the first instead of racing it

        gate.Open();
        var turns = await Task.WhenAll(first, second);

        Assert.Equal(
            [Message.User("A"), Message.Assistant("re: A"), Message.User("B"), Message.Assistant("re: B")],
            await t.MessagesAsync());
        Assert.Equal(1, turns[0].MessagesSent);
        Assert.Equal(3, turns[1].MessagesSent);
        Assert.Empty(ConversationValidator.Validate(await t.MessagesAsync(), ValidationOptions.StrictHistory));
    }

    [Fact]
    public async Task With_wait_and_retry_a_stream_waits_for_a_send_in_flight_instead_of_conflicting()
    {
        // Given a send whose model call is in flight
        var t = new TestLedger(TestLedger.PlainLoop(ConflictHandling.WaitAndRetry));
        var gate = new Gate(expected: 1);
        t.Model.SendAsyncCallback = AnswerAfter(gate);
        var streamCalled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        t.Model.StreamAsyncCallback = (_, ct) =>
        {
            streamCalled.TrySetResult();
            return FakeModelClient.StreamText(["re: ", "B"], ct);
        };
        var send = t.Conversation.SendAsync("A");
        await gate.AllArrived;

        // When a stream on the same thread starts, and then the send's answer arrives
        var stream = Task.Run(async () =>
        {
            TurnUpdate? last = null;
            await foreach (var update in t.Conversation.StreamAsync("B"))
            {
                last = update;
            }
            return Assert.IsType<TurnCommitted>(last).Turn;
        });
        // Give the stream the chance to reach the model while the send is still in flight (it must not).
        await Task.WhenAny(streamCalled.Task, Task.Delay(TimeSpan.FromMilliseconds(200)));
        gate.Open();
        await Task.WhenAll(send, stream);

        // Then both turns are stored, one after the other
        Assert.Equal(
            [Message.User("A"), Message.Assistant("re: A"), Message.User("B"), Message.Assistant("re: B")],
            await t.MessagesAsync());
    }

    [Fact]
    public async Task With_wait_and_retry_a_send_that_lost_to_another_process_sends_again_on_the_new_history()
    {
        // Given two ledgers (two processes) over one store, both sending to one thread at once
        var store = new InMemoryConversationStore();
        var model = new FakeModelClient();
        var gate = new Gate(expected: 2);
        var options = TestLedger.PlainLoop(ConflictHandling.WaitAndRetry);
        var key = new ThreadKey("tenant-a", "scope-1", "shared");
        model.SendAsyncCallback = AnswerAfter(gate);
        var a = new ConversationLedger.Ledger(store, model, options).Open(key);
        var b = new ConversationLedger.Ledger(store, model, options).Open(key);
        var first = a.SendAsync("A");
        var second = b.SendAsync("B");
        await gate.AllArrived;

        // When both answers arrive
        gate.Open();
        var turns = await Task.WhenAll(first, second);

        // Then the loser called the model again with the winner's turn in its history, and both turns are stored once
        Assert.Equal(3, model.Calls);
        var history = (await a.LoadAsync()).AsMessages();
        Assert.Equal(4, history.Count);
        Assert.Empty(ConversationValidator.Validate(history, ValidationOptions.StrictHistory));
        Assert.Equal(["A", "B"], history.Where(m => m.Role == Role.User).Select(m => m.Text).Order());
        Assert.Equal([1, 3], turns.Select(tr => tr.MessagesSent).Order());
    }

    [Fact]
    public async Task With_wait_and_retry_a_send_gives_up_after_the_allowed_retries()
    {
        var options = TestLedger.PlainLoop(ConflictHandling.WaitAndRetry);
        options.MaxConflictRetries = 2;
        var t = new TestLedger(options);
        var sneaked = 0;
        t.Model.SendAsyncCallback = async (_, ct) =>
        {
            // Another process commits a whole turn while every call is in flight.
            var head = await t.Store.GetHeadAsync(t.Key, ct);
            await t.Store.AppendAsync(t.Key, head.LastSequence,
                [new MessageEntry(Message.User($"other {++sneaked}")), new MessageEntry(Message.Assistant("ok"))], ct);
            return FakeModelClient.Respond("mine");
        };

        await Assert.ThrowsAsync<ConcurrencyConflictException>(() => t.Conversation.SendAsync("Hi"));

        Assert.Equal(3, t.Model.Calls);
        Assert.DoesNotContain(await t.MessagesAsync(), m => m.Text is "Hi" or "mine");
    }

    [Fact]
    public async Task Sends_to_different_threads_do_not_conflict()
    {
        var t = new TestLedger();
        var gate = new Gate(expected: 2);
        t.Model.SendAsyncCallback = AnswerAfter(gate);
        var other = t.Ledger.Open(new ThreadKey("tenant-a", "scope-1", "other"));
        var first = t.Conversation.SendAsync("A");
        var second = other.SendAsync("B");
        await gate.AllArrived;

        gate.Open();
        await Task.WhenAll(first, second);

        Assert.Equal(2, (await t.MessagesAsync()).Count);
        Assert.Equal(2, (await other.LoadAsync()).Messages.Count);
    }
}

public sealed class ConversationGateTests
{
    [Fact]
    public async Task Waiting_turns_leave_no_gate_behind_however_many_threads_were_used()
    {
        var t = new TestLedger(TestLedger.PlainLoop(ConflictHandling.WaitAndRetry));

        await Task.WhenAll(Enumerable.Range(0, 200).Select(i => t.Ledger.Open(new ThreadKey("t", "s", $"thread-{i % 50}")).SendAsync($"hello {i}")));
        await foreach (var _ in t.Ledger.Open(new ThreadKey("t", "s", "streamed")).StreamAsync("hi"))
        {
        }

        Assert.Equal(0, t.Ledger.GateCount);
        Assert.Equal(8, (await t.Store.GetHeadAsync(new ThreadKey("t", "s", "thread-7"))).RunningMessages);
    }
}
