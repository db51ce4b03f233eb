namespace ConversationLedger.Cli.Rendering;

/// <summary>
/// Every billed model call of one thread, labelled as <c>ledger usage</c> shows it: the turns numbered, the calls that
/// wrote a summary (committed with it) as <c>summary</c>, billed calls that are part of no committed turn by why
/// (<c>cancelled</c>, <c>conflict</c> …). In a fork, the calls before its newest fork entry were copied from the parent:
/// they are <see cref="UsageCall.Inherited"/>, paid for there, and left out of <see cref="Own"/>.
/// </summary>
/// <param name="Key">The thread.</param>
/// <param name="Calls">The calls, oldest first.</param>
/// <param name="ForkedAt">The newest fork entry, or null for a thread that is not a fork.</param>
public sealed record UsageReport(ThreadKey Key, IReadOnlyList<UsageCall> Calls, ForkEntry? ForkedAt)
{
    /// <summary>The calls this thread paid for (not inherited).</summary>
    public IEnumerable<UsageCall> Own => Calls.Where(c => !c.Inherited);

    /// <summary>The calls copied from the parent by a fork.</summary>
    public IEnumerable<UsageCall> Inherited => Calls.Where(c => c.Inherited);

    /// <summary>Reads a thread's entries and labels its calls.</summary>
    public static async Task<UsageReport> ReadAsync(IConversationStore store, ThreadKey key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(key);
        var entries = new List<LedgerEntry>();
        await foreach (var entry in store.ReadAllAsync(key, cancellationToken: cancellationToken))
        {
            entries.Add(entry);
        }
        return From(key, entries);
    }

    /// <summary>Labels the calls among a thread's entries (all of them, oldest first).</summary>
    public static UsageReport From(ThreadKey key, IReadOnlyList<LedgerEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(entries);
        var forkedAt = entries.OfType<ForkEntry>().LastOrDefault();
        var summaryCommits = new HashSet<string>(StringComparer.Ordinal);
        var calls = new List<UsageCall>();
        var turn = 0;
        foreach (var entry in entries)
        {
            if (entry is SummaryEntry { TurnId: { } summaryCommit })
            {
                summaryCommits.Add(summaryCommit);
            }
            else if (entry is UsageEntry usage)
            {
                var inherited = forkedAt is not null && usage.Sequence < forkedAt.Sequence;
                calls.Add(usage.Record.Uncommitted is not null ? new UsageCall(usage, UsageCall.Uncommitted, null, inherited)
                    : usage.TurnId is { } commit && summaryCommits.Contains(commit) ? new UsageCall(usage, UsageCall.Summary, null, inherited)
                    : new UsageCall(usage, UsageCall.Turn, ++turn, inherited));
            }
        }
        return new UsageReport(key, calls, forkedAt);
    }
}

/// <summary>One billed call.</summary>
/// <param name="Entry">Its usage entry.</param>
/// <param name="Kind"><see cref="Turn"/>, <see cref="Summary"/> or <see cref="Uncommitted"/>.</param>
/// <param name="TurnNumber">The turn's number (1, 2 …) for a turn, else null.</param>
/// <param name="Inherited">Whether a fork copied it from its parent.</param>
public sealed record UsageCall(UsageEntry Entry, string Kind, int? TurnNumber, bool Inherited)
{
    /// <summary>The call of a committed turn.</summary>
    public const string Turn = "turn";

    /// <summary>The call that wrote a summary.</summary>
    public const string Summary = "summary";

    /// <summary>A billed call that is part of no committed turn (<see cref="UsageRecord.Uncommitted"/> says why).</summary>
    public const string Uncommitted = "uncommitted";

    /// <summary>The call's usage record.</summary>
    public UsageRecord Record => Entry.Record;

    /// <summary>How the table labels it: the turn number, <c>summary</c>, or why it is uncommitted; marked when inherited.</summary>
    public string Label =>
        (TurnNumber?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? Record.Uncommitted ?? Kind) + (Inherited ? " (inherited)" : "");
}

/// <summary>Sums of calls' usage.</summary>
/// <param name="Calls">How many calls.</param>
/// <param name="InputTokens">Uncached input tokens.</param>
/// <param name="CacheReadInputTokens">Input tokens read from the cache.</param>
/// <param name="CacheCreationInputTokens">Input tokens written to the cache.</param>
/// <param name="OutputTokens">Output tokens.</param>
/// <param name="CostUsd">Cost in US dollars.</param>
public sealed record UsageTotals(int Calls, long InputTokens, long CacheReadInputTokens, long CacheCreationInputTokens, long OutputTokens, decimal CostUsd)
{
    /// <summary>The sums over <paramref name="records"/>.</summary>
    public static UsageTotals Of(IEnumerable<UsageRecord> records)
    {
        ArgumentNullException.ThrowIfNull(records);
        var list = records.ToList();
        return new UsageTotals(list.Count, list.Sum(r => r.Usage.InputTokens), list.Sum(r => r.Usage.CacheReadInputTokens),
            list.Sum(r => r.Usage.CacheCreationInputTokens), list.Sum(r => r.Usage.OutputTokens), list.Sum(r => r.CostUsd));
    }
}
