using System.Runtime.CompilerServices;
using ConversationLedger.Tests.TestSupport;

namespace ConversationLedger.Tests.Conversations;

/// <summary>Every billed call is in the usage log, also when it is part of no committed turn.</summary>
public sealed class UncommittedUsageTests
{
    private static async Task<UsageRecord[]> UsageAsync(TestLedger t) =>
        (await t.EntriesAsync()).OfType<UsageEntry>().Select(u => u.Record).ToArray();

    [Fact]
    public async Task A_turn_that_loses_a_conflict_records_its_billed_usage_as_uncommitted()
    {
        var t = new TestLedger();
        await t.Conversation.SendAsync("One");
        t.Model.SendAsyncCallback = async (_, token) =>
        {
            // Another writer (one that takes no lease) commits while the model answers.
            var head = await t.Store.GetHeadAsync(t.Key, token);
            await t.Store.AppendAsync(t.Key, head.LastSequence, [new ResetEntry("elsewhere")], token);
            return FakeModel.Respond("late reply", new TokenUsage { InputTokens = 300, OutputTokens = 7 });
        };

        await Assert.ThrowsAsync<ConcurrencyConflictException>(() => t.Conversation.SendAsync("Two"));

        var usage = await UsageAsync(t);
        Assert.Equal(2, usage.Length);
        Assert.Null(usage[0].Uncommitted);
        Assert.Equal(("conflict", 300L, 7L), (usage[1].Uncommitted, usage[1].Usage.InputTokens, usage[1].Usage.OutputTokens));
        Assert.True(usage[1].CostUsd > 0);
        Assert.DoesNotContain(await t.EntriesAsync(), e => e is MessageEntry { Message.Text: "Two" or "late reply" });
    }

    [Fact]
    public async Task A_stream_cancelled_after_it_started_records_the_usage_the_api_reported()
    {
        var t = new TestLedger();
        using var cancel = new CancellationTokenSource();
        t.Model.StreamAsyncCallback = (_, token) => StartThenHang(token);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var update in t.Conversation.StreamAsync(Message.User("One"), cancel.Token))
            {
                if (update is TurnTextDelta)
                {
                    await cancel.CancelAsync();
                }
            }
        });

        var usage = Assert.Single(await UsageAsync(t));
        Assert.Equal(("cancelled", 1_200L, "req_started"), (usage.Uncommitted, usage.Usage.InputTokens, usage.RequestId));
        Assert.DoesNotContain(await t.EntriesAsync(), e => e is MessageEntry);
    }

    [Theory]
    [InlineData(true)] // cancelled while the caller handled a delta (its own await throws, not the stream's)
    [InlineData(false)] // the caller stopped enumerating
    public async Task A_stream_the_caller_leaves_after_it_started_records_the_usage_the_api_reported(bool cancelWhileHandling)
    {
        var t = new TestLedger();
        using var cancel = new CancellationTokenSource();
        t.Model.StreamAsyncCallback = (_, token) => StartThenHang(token);

        try
        {
            await foreach (var update in t.Conversation.StreamAsync(Message.User("One"), cancel.Token))
            {
                if (update is TurnTextDelta && cancelWhileHandling)
                {
                    await cancel.CancelAsync();
                    await Task.Delay(Timeout.Infinite, cancel.Token);
                }
                if (update is TurnTextDelta)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (cancelWhileHandling)
        {
        }

        var usage = Assert.Single(await UsageAsync(t));
        Assert.Equal(("cancelled", 1_200L, "req_started"), (usage.Uncommitted, usage.Usage.InputTokens, usage.RequestId));
        Assert.DoesNotContain(await t.EntriesAsync(), e => e is MessageEntry);
    }

    [Fact]
    public async Task A_stream_cancelled_before_it_started_records_nothing()
    {
        var t = new TestLedger();
        using var cancel = new CancellationTokenSource();
        t.Model.StreamAsyncCallback = (_, token) => Hang(token);
        cancel.CancelAfter(50);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in t.Conversation.StreamAsync(Message.User("One"), cancel.Token))
            {
            }
        });

        Assert.Empty(await t.EntriesAsync());
    }

    [Fact]
    public async Task A_summary_that_came_back_empty_records_its_usage_and_the_turn_goes_ahead()
    {
        var options = TestLedger.PlainLoop();
        options.HistoryPolicy = HistoryPolicies.Parse("summarize:2/2");
        var t = new TestLedger(options);
        t.Model.SendAsyncCallback = (request, _) => Task.FromResult(request.System.Any(b => b.Text?.Contains("running summary", StringComparison.Ordinal) == true)
            ? FakeModel.Respond(" ", new TokenUsage { InputTokens = 900, OutputTokens = 1 })
            : FakeModel.Respond("reply"));

        for (var i = 0; i < 4; i++)
        {
            await t.Conversation.SendAsync($"message {i}");
        }

        var usage = await UsageAsync(t);
        Assert.Contains(usage, u => u is { Uncommitted: "summary failed", Usage.InputTokens: 900 });
        Assert.Equal(4, usage.Count(u => u.Uncommitted is null));
    }

    [Fact]
    public async Task A_reply_that_cannot_be_stored_records_its_usage_as_refused()
    {
        var t = new TestLedger();
        // A reply that calls a tool twice with the same id breaks the API's rules: it cannot be stored.
        t.Model.SendAsyncCallback = (_, _) => Task.FromResult(FakeModel.Respond(
            Build.Assistant(Build.ToolUse("toolu_1"), Build.ToolUse("toolu_1")), new TokenUsage { InputTokens = 50, OutputTokens = 20 }));

        await Assert.ThrowsAsync<ModelCallException>(() => t.Conversation.SendAsync("One"));

        Assert.Equal("refused", Assert.Single(await UsageAsync(t)).Uncommitted);
    }

    private static async IAsyncEnumerable<ModelStreamEvent> StartThenHang([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        yield return new StreamStarted("claude-sonnet-5-5", new TokenUsage { InputTokens = 1_200, OutputTokens = 1 }, "req_started");
        yield return new TextDelta(0, "Hel");
        await Task.Delay(Timeout.Infinite, cancellationToken);
        yield return new TextDelta(0, "lo");
    }

    private static async IAsyncEnumerable<ModelStreamEvent> Hang([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await Task.Delay(Timeout.Infinite, cancellationToken);
        yield return new TextDelta(0, "never");
    }
}
