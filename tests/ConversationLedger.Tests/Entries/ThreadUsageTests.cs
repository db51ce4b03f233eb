namespace ConversationLedger.Tests.Entries;

public sealed class ThreadUsageTests
{
    private static readonly ThreadKey Key = new("acme", "ticket-42", "t1");
    private static readonly DateTimeOffset Monday = new(2026, 11, 30, 23, 30, 0, TimeSpan.Zero);

    private static UsageEntry Call(long sequence, string? turnId, long input, decimal cost, string? uncommitted = null, DateTimeOffset? at = null) =>
        new(new UsageRecord("claude-sonnet-5-5", new TokenUsage { InputTokens = input, OutputTokens = 10 }, cost) { Uncommitted = uncommitted })
        {
            Sequence = sequence,
            TurnId = turnId,
            RecordedAt = at ?? Monday,
        };

    [Fact]
    public void Turns_are_numbered_and_summary_and_uncommitted_calls_are_told_apart()
    {
        LedgerEntry[] entries =
        [
            Call(3, "turn-1", 100, 0.01m),
            new SummaryEntry("so far", 1, 2, "claude-haiku-5-5", 100, 10) { Sequence = 4, TurnId = "summary-1" },
            Call(5, "summary-1", 50, 0.001m),
            Call(6, null, 70, 0.002m, uncommitted: "cancelled"),
            Call(9, "turn-2", 200, 0.02m),
        ];

        var usage = ThreadUsage.From(Key, entries);

        Assert.Equal([UsageCallKind.Turn, UsageCallKind.Summary, UsageCallKind.Uncommitted, UsageCallKind.Turn], usage.Calls.Select(c => c.Kind));
        Assert.Equal([1, null, null, 2], usage.Calls.Select(c => c.TurnNumber));
        Assert.Null(usage.ForkedAt);
    }

    [Fact]
    public void A_summary_call_is_told_apart_whatever_its_place_in_the_commit()
    {
        LedgerEntry[] entries =
        [
            Call(3, "summary-1", 50, 0.001m),
            new SummaryEntry("so far", 1, 2, "claude-haiku-5-5", 100, 10) { Sequence = 4, TurnId = "summary-1" },
        ];

        var usage = ThreadUsage.From(Key, entries);

        Assert.Equal(UsageCallKind.Summary, Assert.Single(usage.Calls).Kind);
    }

    [Fact]
    public void A_forks_calls_before_its_fork_entry_are_inherited_and_left_out_of_its_own_totals()
    {
        LedgerEntry[] entries =
        [
            Call(3, "turn-1", 100, 0.01m),
            new ForkEntry(new ThreadKey("acme", "ticket-42", "parent"), 3) { Sequence = 4 },
            Call(7, "turn-2", 200, 0.02m),
        ];

        var usage = ThreadUsage.From(Key, entries);

        Assert.Equal([true, false], usage.Calls.Select(c => c.Inherited));
        Assert.Equal(new UsageTotals(1, 200, 0, 0, 10, 0.02m), usage.OwnTotals);
        Assert.Equal(new UsageTotals(1, 100, 0, 0, 10, 0.01m), usage.InheritedTotals);
    }

    [Fact]
    public void Context_fill_is_the_prompt_over_the_models_window_and_null_for_an_unknown_model()
    {
        var known = new UsageCall(Call(1, "t", 100_000, 0m), UsageCallKind.Turn, 1, false);
        var unknown = known with { Entry = new UsageEntry(new UsageRecord("no-such-model", new TokenUsage { InputTokens = 5 }, 0m)) };
        ModelCatalog.Default.TryGet("claude-sonnet-5-5", out var model);

        Assert.Equal(100_000d / model.ContextWindow, known.ContextFill(ModelCatalog.Default));
        Assert.Null(unknown.ContextFill(ModelCatalog.Default));
    }

    [Fact]
    public void Sums_by_thread_leave_out_threads_without_calls_of_their_own()
    {
        var paying = ThreadUsage.From(Key, [Call(1, "t", 100, 0.01m), Call(2, "u", 50, 0.01m)]);
        var idle = ThreadUsage.From(new ThreadKey("acme", "ticket-42", "idle"), []);

        var groups = ThreadUsage.ByThread([paying, idle]);

        var group = Assert.Single(groups);
        Assert.Equal("t1", group.Label);
        Assert.Equal(2, group.Totals.Calls);
        Assert.Equal(150, group.Totals.InputTokens);
    }

    [Fact]
    public void Sums_by_day_use_the_date_in_the_given_time_zone_oldest_first()
    {
        var ahead = TimeZoneInfo.CreateCustomTimeZone("UTC+2", TimeSpan.FromHours(2), "UTC+2", "UTC+2");
        var usage = ThreadUsage.From(Key, [Call(1, "t", 100, 0.01m, at: Monday.AddDays(1)), Call(2, "u", 50, 0.01m, at: Monday)]);

        var groups = ThreadUsage.ByDay([usage], ahead);

        // 23:30 UTC on Monday is already Tuesday two hours east.
        Assert.Equal(["2026-12-01", "2026-12-02"], groups.Select(g => g.Label));
    }

    [Fact]
    public async Task ReadAsync_reads_the_whole_thread_from_the_store()
    {
        var store = new InMemoryConversationStore();
        await store.AppendAsync(Key, 0, [new MessageEntry(Message.User("hi")), Call(0, "t", 100, 0.01m)]);

        var usage = await ThreadUsage.ReadAsync(store, Key);

        Assert.Equal(1, Assert.Single(usage.Calls).TurnNumber);
    }

    [Fact]
    public void Guards_name_their_parameter()
    {
        Assert.Equal("entries", Assert.Throws<ArgumentNullException>(() => ThreadUsage.From(Key, null!)).ParamName);
        Assert.Equal("zone", Assert.Throws<ArgumentNullException>(() => ThreadUsage.ByDay([], null!)).ParamName);
    }
}
