using System.Runtime.CompilerServices;
using ConversationLedger.Tests.TestSupport;

namespace ConversationLedger.Tests.Conversations;

public sealed class StreamingTests
{
    [Fact]
    public async Task Stream_yields_the_deltas_then_the_committed_turn()
    {
        var t = new TestLedger();
        t.Model.StreamAsyncCallback = (_, ct) => FakeModel.StreamText(["Hel", "lo", "!"], ct);

        var updates = new List<TurnUpdate>();
        await foreach (var update in t.Conversation.StreamAsync("Hi"))
        {
            updates.Add(update);
        }

        Assert.Equal([new TurnTextDelta("Hel"), new TurnTextDelta("lo"), new TurnTextDelta("!")], updates.Take(3));
        var committed = Assert.IsType<TurnCommitted>(updates[^1]);
        Assert.Equal(4, updates.Count);
        Assert.Equal("Hello!", committed.Turn.ReplyText);
        Assert.Equal([Message.User("Hi"), Message.Assistant("Hello!")], await t.MessagesAsync());
        Assert.All(await t.EntriesAsync(), e => Assert.Equal(committed.Turn.TurnId, e.TurnId));
    }

    [Fact]
    public async Task Stream_passes_thinking_deltas_through()
    {
        var t = new TestLedger();
        t.Model.StreamAsyncCallback = (_, ct) => ThinkingThenText(ct);

        var updates = new List<TurnUpdate>();
        await foreach (var update in t.Conversation.StreamAsync("Hi"))
        {
            updates.Add(update);
        }

        Assert.Equal(new TurnThinkingDelta("hmm"), updates[0]);
        Assert.Equal(new TurnTextDelta("Hi"), updates[1]);
        Assert.IsType<TurnCommitted>(updates[2]);
    }

    [Fact]
    public async Task Abandoning_a_stream_midway_stores_nothing()
    {
        var t = new TestLedger();
        await t.Conversation.SendAsync("First");
        var before = await t.EntriesAsync();
        t.Model.StreamAsyncCallback = (_, ct) => FakeModel.StreamText(["Hel", "lo"], ct);

        await foreach (var update in t.Conversation.StreamAsync("Second"))
        {
            Assert.Equal(new TurnTextDelta("Hel"), update);
            break;
        }

        Assert.Equal(before, await t.EntriesAsync());
    }

    [Fact]
    public async Task With_wait_and_retry_an_abandoned_stream_does_not_hold_up_the_next_send()
    {
        var t = new TestLedger(TestLedger.PlainLoop(ConflictHandling.WaitAndRetry));
        t.Model.StreamAsyncCallback = (_, ct) => FakeModel.StreamText(["Hel", "lo"], ct);
        await foreach (var _ in t.Conversation.StreamAsync("Abandoned"))
        {
            break;
        }

        var turn = await t.Conversation.SendAsync("Next").WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(1, turn.MessagesSent);
    }

    [Fact]
    public async Task Cancelling_a_stream_midway_stores_nothing()
    {
        var t = new TestLedger();
        t.Model.StreamAsyncCallback = (_, ct) => FakeModel.StreamText(["Hel", "lo"], ct);
        using var cts = new CancellationTokenSource();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in t.Conversation.StreamAsync("Hi", cts.Token))
            {
                await cts.CancelAsync();
            }
        });

        Assert.Empty(await t.EntriesAsync());
    }

    [Fact]
    public async Task A_stream_that_ends_without_a_complete_message_stores_nothing()
    {
        var t = new TestLedger();
        t.Model.StreamAsyncCallback = (_, ct) => DeltasOnly(ct);

        var ex = await Assert.ThrowsAsync<ModelCallException>(async () =>
        {
            await foreach (var _ in t.Conversation.StreamAsync("Hi"))
            {
            }
        });

        Assert.Contains("without a complete message", ex.Message, StringComparison.Ordinal);
        Assert.Empty(await t.EntriesAsync());
    }

    [Fact]
    public async Task A_stream_that_breaks_stores_nothing()
    {
        var t = new TestLedger();
        t.Model.StreamAsyncCallback = (_, ct) => Broken(ct);

        await Assert.ThrowsAsync<ModelCallException>(async () =>
        {
            await foreach (var _ in t.Conversation.StreamAsync("Hi"))
            {
            }
        });

        Assert.Empty(await t.EntriesAsync());
    }

    private static async IAsyncEnumerable<ModelStreamEvent> ThinkingThenText([EnumeratorCancellation] CancellationToken ct = default)
    {
        await Task.Yield();
        yield return new ThinkingDelta(0, "hmm");
        yield return new TextDelta(1, "Hi");
        yield return new StreamCompleted(FakeModel.Respond(new Message(Role.Assistant,
            [ContentBlock.CreateThinking("hmm", "sig"), ContentBlock.CreateText("Hi")])));
        ct.ThrowIfCancellationRequested();
    }

    private static async IAsyncEnumerable<ModelStreamEvent> DeltasOnly([EnumeratorCancellation] CancellationToken ct = default)
    {
        await Task.Yield();
        ct.ThrowIfCancellationRequested();
        yield return new TextDelta(0, "Hel");
    }

    private static async IAsyncEnumerable<ModelStreamEvent> Broken([EnumeratorCancellation] CancellationToken ct = default)
    {
        await Task.Yield();
        ct.ThrowIfCancellationRequested();
        yield return new TextDelta(0, "Hel");
        throw new ModelCallException("overloaded", 529, "overloaded_error");
    }
}
