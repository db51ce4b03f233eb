using System.Globalization;

namespace ConversationLedger;

/// <summary>
/// Every billed model call of one thread, read from its usage entries and told apart: the calls of committed turns
/// (numbered 1, 2 …), the calls that wrote a summary (committed with it, sharing its turn id), and billed calls that are
/// part of no committed turn (<see cref="UsageRecord.Uncommitted"/> says why). In a fork, the calls before its newest
/// fork entry were copied from the parent: they are <see cref="UsageCall.Inherited"/>, paid for there, and left out of
/// <see cref="Own"/>, so a sum over several threads counts every call once.
/// </summary>
/// <param name="Key">The thread.</param>
/// <param name="Calls">The calls, oldest first.</param>
/// <param name="ForkedAt">The newest fork entry, or null for a thread that is not a fork.</param>
public sealed record ThreadUsage(ThreadKey Key, IReadOnlyList<UsageCall> Calls, ForkEntry? ForkedAt)
{
    /// <summary>The calls this thread paid for (not inherited).</summary>
    public IEnumerable<UsageCall> Own => Calls.Where(c => !c.Inherited);

    /// <summary>The calls copied from the parent by a fork.</summary>
    public IEnumerable<UsageCall> Inherited => Calls.Where(c => c.Inherited);

    /// <summary>The sums of the calls this thread paid for.</summary>
    public UsageTotals OwnTotals => UsageTotals.Of(Own.Select(c => c.Record));

    /// <summary>The sums of the calls a fork copied from its parent.</summary>
    public UsageTotals InheritedTotals => UsageTotals.Of(Inherited.Select(c => c.Record));

    /// <summary>Reads all of a thread's entries (archive included) and tells its calls apart.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="store"/> or <paramref name="key"/> is null.</exception>
    public static async Task<ThreadUsage> ReadAsync(IConversationStore store, ThreadKey key, CancellationToken cancellationToken = default)
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

    /// <summary>Tells apart the calls among a thread's entries (all of them, oldest first).</summary>
    /// <exception cref="ArgumentNullException"><paramref name="key"/> or <paramref name="entries"/> is null.</exception>
    public static ThreadUsage From(ThreadKey key, IReadOnlyList<LedgerEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(entries);
        var forkedAt = entries.OfType<ForkEntry>().LastOrDefault();
        // A summary's call shares its commit's turn id; gathered first, so the order within a commit does not matter.
        var summaryCommits = entries.OfType<SummaryEntry>().Select(s => s.TurnId).OfType<string>().ToHashSet(StringComparer.Ordinal);
        var calls = new List<UsageCall>();
        var turn = 0;
        foreach (var entry in entries)
        {
            if (entry is UsageEntry usage)
            {
                var inherited = forkedAt is not null && usage.Sequence < forkedAt.Sequence;
                calls.Add(usage.Record.Uncommitted is not null ? new UsageCall(usage, UsageCallKind.Uncommitted, null, inherited)
                    : usage.TurnId is { } commit && summaryCommits.Contains(commit) ? new UsageCall(usage, UsageCallKind.Summary, null, inherited)
                    : new UsageCall(usage, UsageCallKind.Turn, ++turn, inherited));
            }
        }
        return new ThreadUsage(key, calls, forkedAt);
    }

    /// <summary>The own calls of several threads summed per thread, in the order given; threads without own calls are left out.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="threads"/> is null.</exception>
    public static IReadOnlyList<UsageGroup> ByThread(IEnumerable<ThreadUsage> threads)
    {
        ArgumentNullException.ThrowIfNull(threads);
        return threads.Where(t => t.Own.Any()).Select(t => new UsageGroup(t.Key.ThreadId, t.OwnTotals)).ToList();
    }

    /// <summary>
    /// The own calls of several threads summed per day (the date in <paramref name="zone"/> each call was recorded,
    /// <c>yyyy-MM-dd</c>), oldest day first.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="threads"/> or <paramref name="zone"/> is null.</exception>
    public static IReadOnlyList<UsageGroup> ByDay(IEnumerable<ThreadUsage> threads, TimeZoneInfo zone)
    {
        ArgumentNullException.ThrowIfNull(threads);
        ArgumentNullException.ThrowIfNull(zone);
        return threads.SelectMany(t => t.Own)
            .GroupBy(c => TimeZoneInfo.ConvertTime(c.Entry.RecordedAt, zone).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => new UsageGroup(g.Key, UsageTotals.Of(g.Select(c => c.Record))))
            .ToList();
    }
}
