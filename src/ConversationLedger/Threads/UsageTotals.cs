namespace ConversationLedger;

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
    /// <exception cref="ArgumentNullException"><paramref name="records"/> is null.</exception>
    public static UsageTotals Of(IEnumerable<UsageRecord> records)
    {
        ArgumentNullException.ThrowIfNull(records);
        var list = records.ToList();
        return new UsageTotals(list.Count, list.Sum(r => r.Usage.InputTokens), list.Sum(r => r.Usage.CacheReadInputTokens),
            list.Sum(r => r.Usage.CacheCreationInputTokens), list.Sum(r => r.Usage.OutputTokens), list.Sum(r => r.CostUsd));
    }
}
