using ConversationLedger.Tests.TestSupport;

namespace ConversationLedger.Tests.Conversations;

public sealed class ConcurrencyTests
{
    private static Func<ModelRequest, CancellationToken, Task<ModelResponse>> AnswerAfter(Gate gate) => async (request, ct) =>
    {
        await gate.PassAsync(ct);
        return FakeModel.Respond("re: " + request.Messages[^1].Text);
    };

    [Fact]
    public async Task A_second_send_while_a_turn_is_in_flight_is_refused_before_calling_the_model()
    {
        // Given a send whose model call is in flight
        var t = new TestLedger();
        var gate = new Gate(expected: 1);
        t.Model.SendAsyncCallback = AnswerAfter(gate);
        var first = t.Conversation.SendAsync("A");
        await gate.AllArrived;

        // When a second send starts on the same thread
        var lost = await Assert.ThrowsAsync<ConcurrencyConflictException>(() => t.Conversation.SendAsync("B"));

        // Then it is refused without a model call, saying another turn is in flight, and the first commits
        Assert.True(lost.TurnInFlight);
        Assert.Equal(t.Key, lost.Key);
        Assert.Contains("another turn", lost.Message, StringComparison.Ordinal);
        Assert.Equal(1, t.Model.Calls);
        gate.Open();
        var won = await first;
        Assert.Equal([won.User.Message, won.Reply.Message], await t.MessagesAsync());
        Assert.Equal(3, (await t.EntriesAsync()).Count);
    }

    [Fact]
    public async Task A_send_from_another_ledger_over_the_same_store_is_refused_while_a_turn_is_in_flight()
    {
        var t = new TestLedger();
        var gate = new Gate(expected: 1);
        t.Model.SendAsyncCallback = AnswerAfter(gate);
        var otherProcess = new ConversationLedger.Ledger(t.Store, t.Model, TestLedger.PlainLoop()).Open(t.Key);
        var first = t.Conversation.SendAsync("A");
        await gate.AllArrived;

        var lost = await Assert.ThrowsAsync<ConcurrencyConflictException>(() => otherProcess.SendAsync("B"));

        Assert.True(lost.TurnInFlight);
        gate.Open();
        await first;
        // The lease is released at commit: the other ledger's next turn goes ahead.
        await otherProcess.SendAsync("B");
        Assert.Equal(2, t.Model.Calls);
        Assert.Equal(4, (await t.MessagesAsync()).Count);
    }

    [Fact]
    public async Task A_stream_while_a_turn_is_in_flight_is_refused_before_calling_the_model()
    {
        var t = new TestLedger();
        var gate = new Gate(expected: 1);
        t.Model.SendAsyncCallback = AnswerAfter(gate);
        var first = t.Conversation.SendAsync("A");
        await gate.AllArrived;

        var lost = await Assert.ThrowsAsync<ConcurrencyConflictException>(async () =>
        {
            await foreach (var _ in t.Conversation.StreamAsync("B"))
            {
            }
        });

        Assert.True(lost.TurnInFlight);
        Assert.Equal(1, t.Model.Calls);
        gate.Open();
        await first;
    }

    [Fact]
    public async Task A_turn_overtaken_by_a_writer_that_took_no_lease_is_still_refused_at_commit()
    {
        // Given a send whose model call is in flight, and a writer that appends a whole turn without the lease meanwhile
        var t = new TestLedger();
        t.Model.SendAsyncCallback = async (_, ct) =>
        {
            await t.Store.AppendAsync(t.Key, 0, [new MessageEntry(Message.User("other")), new MessageEntry(Message.Assistant("ok"))], ct);
            return FakeModel.Respond("mine");
        };

        // When the answer arrives
        var lost = await Assert.ThrowsAsync<ConcurrencyConflictException>(() => t.Conversation.SendAsync("A"));

        // Then the expected sequence refuses the commit, and nothing of the turn is stored
        Assert.False(lost.TurnInFlight);
        Assert.Equal(0, lost.ExpectedSequence);
        Assert.Equal(2, lost.ActualSequence);
        Assert.Equal([Message.User("other"), Message.Assistant("ok")], await t.MessagesAsync());
        // And the lease was released: the next send goes ahead on the new history
        t.Model.SendAsyncCallback = null;
        Assert.Equal(3, (await t.Conversation.SendAsync("again")).MessagesSent);
    }

    [Fact]
    public async Task A_pending_turn_holds_the_lease_until_it_is_committed_or_disposed()
    {
        // Given a pending turn (a caller that makes the model call itself)
        var t = new TestLedger();
        var pending = await t.Conversation.BeginTurnAsync(Message.User("A"));

        // Then another turn is refused before its call until the pending turn is committed
        var lost = await Assert.ThrowsAsync<ConcurrencyConflictException>(() => t.Conversation.SendAsync("B"));
        Assert.True(lost.TurnInFlight);
        Assert.Equal(0, t.Model.Calls);
        await pending.CommitAsync(FakeModel.Respond("re: A"));
        await t.Conversation.SendAsync("B");

        // And a pending turn given up releases it when disposed
        await using (await t.Conversation.BeginTurnAsync(Message.User("C")))
        {
        }
        await t.Conversation.SendAsync("D");
        Assert.Equal(["A", "B", "D"], (await t.MessagesAsync()).Where(m => m.Role == Role.User).Select(m => m.Text));
    }

    [Fact]
    public async Task A_failed_or_cancelled_turn_releases_the_lease()
    {
        var t = new TestLedger();
        t.Model.SendAsyncCallback = (_, _) => throw new ModelCallException("Overloaded", 529, "overloaded_error");
        await Assert.ThrowsAsync<ModelCallException>(() => t.Conversation.SendAsync("A"));
        using var cts = new CancellationTokenSource();
        t.Model.SendAsyncCallback = async (_, ct) =>
        {
            await cts.CancelAsync();
            await Task.Delay(Timeout.Infinite, ct);
            throw new InvalidOperationException("unreachable");
        };
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => t.Conversation.SendAsync("B", cts.Token));

        Assert.True(await t.Store.TryAcquireTurnLeaseAsync(t.Key, "someone", TimeSpan.FromMinutes(1)));
    }

    [Fact]
    public async Task A_committed_turn_ends_its_lease_in_the_append_that_stores_it_however_it_was_sent()
    {
        // Given a store that ends leases with appends and counts the releases asked of it apart
        var store = new CountingReleases();
        var ledger = new Ledger(store, new FakeModel(), TestLedger.PlainLoop(), TestLedger.CharacterCounting);
        var key = new ThreadKey("tenant-a", "scope-1", "thread");
        var conversation = ledger.Open(key);

        // When turns commit by a send, a stream and a pending turn
        await conversation.SendAsync("A");
        await foreach (var _ in conversation.StreamAsync("B"))
        {
        }
        await using (var pending = await conversation.BeginTurnAsync(Message.User("C")))
        {
            await pending.CommitAsync(FakeModel.Respond("re: C"));
        }

        // Then none needed a release of its own, and the thread is free
        Assert.Equal(0, store.Releases);
        Assert.True(await store.TryAcquireTurnLeaseAsync(key, "next", TimeSpan.FromMinutes(1)));
    }

    private sealed class CountingReleases : IConversationStore
    {
        private readonly InMemoryConversationStore _inner = new();
        private int _releases;

        public int Releases => Volatile.Read(ref _releases);

        public Task<bool> ReleaseTurnLeaseAsync(ThreadKey key, string holder, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _releases);
            return _inner.ReleaseTurnLeaseAsync(key, holder, cancellationToken);
        }

        public Task<AppendResult> AppendAndReleaseTurnLeaseAsync(ThreadKey key, long expectedSequence, IReadOnlyList<LedgerEntry> entries, string holder,
            CancellationToken cancellationToken = default) => _inner.AppendAndReleaseTurnLeaseAsync(key, expectedSequence, entries, holder, cancellationToken);

        public Task<ThreadHead> GetHeadAsync(ThreadKey key, CancellationToken cancellationToken = default) => _inner.GetHeadAsync(key, cancellationToken);

        public Task<AppendResult> AppendAsync(ThreadKey key, long expectedSequence, IReadOnlyList<LedgerEntry> entries, CancellationToken cancellationToken = default) =>
            _inner.AppendAsync(key, expectedSequence, entries, cancellationToken);

        public Task<ThreadWindow> ReadWindowAsync(ThreadKey key, WindowSpec window, CancellationToken cancellationToken = default) =>
            _inner.ReadWindowAsync(key, window, cancellationToken);

        public Task<IReadOnlyList<LedgerEntry>> ReadEntriesAsync(ThreadKey key, long afterSequence, int limit, CancellationToken cancellationToken = default) =>
            _inner.ReadEntriesAsync(key, afterSequence, limit, cancellationToken);

        public Task<ThreadPage> ListThreadsAsync(string tenant, string? scope, PageRequest page, CancellationToken cancellationToken = default) =>
            _inner.ListThreadsAsync(tenant, scope, page, cancellationToken);

        public Task<ThreadHead> ForkAsync(ThreadKey source, long atSequence, ThreadKey target, CancellationToken cancellationToken = default) =>
            _inner.ForkAsync(source, atSequence, target, cancellationToken);

        public Task<bool> DeleteThreadAsync(ThreadKey key, CancellationToken cancellationToken = default) => _inner.DeleteThreadAsync(key, cancellationToken);

        public Task<int> DeleteTenantAsync(string tenant, CancellationToken cancellationToken = default) => _inner.DeleteTenantAsync(tenant, cancellationToken);

        public Task<bool> TryAcquireTurnLeaseAsync(ThreadKey key, string holder, TimeSpan duration, CancellationToken cancellationToken = default) =>
            _inner.TryAcquireTurnLeaseAsync(key, holder, duration, cancellationToken);
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
            return FakeModel.StreamText(["re: ", "B"], ct);
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
    public async Task With_wait_and_retry_a_send_from_another_process_waits_for_the_lease_and_sends_once_on_the_new_history()
    {
        // Given two ledgers (two processes) over one store, one with a turn in flight
        var store = new InMemoryConversationStore();
        var model = new FakeModel();
        var gate = new Gate(expected: 1);
        var options = TestLedger.PlainLoop(ConflictHandling.WaitAndRetry);
        var key = new ThreadKey("tenant-a", "scope-1", "shared");
        model.SendAsyncCallback = AnswerAfter(gate);
        var a = new ConversationLedger.Ledger(store, model, options).Open(key);
        var b = new ConversationLedger.Ledger(store, model, options).Open(key);
        var first = a.SendAsync("A");
        await gate.AllArrived;

        // When the other process sends meanwhile, and then the first answer arrives
        var second = b.SendAsync("B");
        await Task.Delay(100);
        Assert.Equal(1, model.Calls); // it waits for the lease instead of paying for a call it would lose
        gate.Open();
        var turns = await Task.WhenAll(first, second);

        // Then it called the model once, with the first turn in its history
        Assert.Equal(2, model.Calls);
        var history = (await a.LoadAsync()).AsMessages();
        Assert.Equal(["A", "B"], history.Where(m => m.Role == Role.User).Select(m => m.Text));
        Assert.Equal([1, 3], turns.Select(tr => tr.MessagesSent));
    }

    [Fact]
    public async Task With_wait_and_retry_a_wait_for_the_lease_ends_when_the_caller_cancels()
    {
        var t = new TestLedger(TestLedger.PlainLoop(ConflictHandling.WaitAndRetry));
        var gate = new Gate(expected: 1);
        t.Model.SendAsyncCallback = AnswerAfter(gate);
        var otherProcess = new ConversationLedger.Ledger(t.Store, t.Model, TestLedger.PlainLoop(ConflictHandling.WaitAndRetry)).Open(t.Key);
        var first = t.Conversation.SendAsync("A");
        await gate.AllArrived;

        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => otherProcess.SendAsync("B", cts.Token));

        Assert.Equal(1, t.Model.Calls);
        gate.Open();
        await first;
        Assert.Equal(2, (await t.MessagesAsync()).Count);
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
            return FakeModel.Respond("mine");
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
