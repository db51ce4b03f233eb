namespace ConversationLedger.Emulator;

/// <summary>What one request's prompt cost, split the way the API's usage reports it.</summary>
/// <param name="InputTokens">Tokens after the cached and newly written prefix (base rate).</param>
/// <param name="CacheReadTokens">Tokens read from the cache.</param>
/// <param name="CacheWrite5mTokens">Tokens written with the 5-minute TTL.</param>
/// <param name="CacheWrite1hTokens">Tokens written with the 1-hour TTL.</param>
internal sealed record CacheAccounting(long InputTokens, long CacheReadTokens, long CacheWrite5mTokens, long CacheWrite1hTokens)
{
    /// <summary>All tokens written to the cache.</summary>
    public long CacheWriteTokens => CacheWrite5mTokens + CacheWrite1hTokens;

    /// <summary>All prompt tokens.</summary>
    public long TotalTokens => InputTokens + CacheReadTokens + CacheWriteTokens;
}

/// <summary>
/// The prompt cache by the published rules: entries are exact prefixes ending at a breakpoint, keyed per
/// API key and model, alive for their TTL (5m or 1h, refreshed on every hit) by the configured
/// <see cref="TimeProvider"/>. Prefixes shorter than the model's minimum are silently not cached.
/// For each breakpoint, a hit is looked for at block boundaries up to <see cref="LookbackBlocks"/> blocks back.
/// Thread-safe.
/// </summary>
internal sealed class PromptCache
{
    /// <summary>How many blocks before a breakpoint a hit is looked for (the API documents about 20).</summary>
    public const int LookbackBlocks = 20;

    private readonly TimeProvider _time;
    private readonly Dictionary<(string ApiKey, string Model, string Hash), Entry> _entries = [];
    private readonly Lock _lock = new();

    /// <summary>Creates an empty cache that tells time by <paramref name="timeProvider"/>.</summary>
    public PromptCache(TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        _time = timeProvider;
    }

    /// <summary>Live entries (expired ones are dropped on the next access).</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                var now = _time.GetUtcNow();
                return _entries.Values.Count(e => e.ExpiresAt > now);
            }
        }
    }

    /// <summary>Forgets every entry.</summary>
    public void Clear()
    {
        lock (_lock)
        {
            _entries.Clear();
        }
    }

    /// <summary>
    /// Accounts one request: reads the longest live cached prefix, writes the breakpoints past it that are long
    /// enough, and returns the usage split. A request that is only counted must not call this (it changes the cache).
    /// </summary>
    public CacheAccounting Account(string apiKey, string model, PromptLayout layout, long minCacheableTokens)
    {
        ArgumentNullException.ThrowIfNull(apiKey);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(layout);
        var blocks = layout.Blocks;
        var breakpoints = Enumerable.Range(0, blocks.Count).Where(i => blocks[i].BreakpointTtl is not null).ToList();
        if (breakpoints.Count == 0)
        {
            return new CacheAccounting(layout.TotalTokens, 0, 0, 0);
        }

        lock (_lock)
        {
            var now = _time.GetUtcNow();
            Prune(now);
            var hit = -1;
            foreach (var breakpoint in Enumerable.Reverse(breakpoints))
            {
                for (var j = breakpoint; j >= Math.Max(0, breakpoint - LookbackBlocks) && j > hit; j--)
                {
                    if (_entries.ContainsKey((apiKey, model, blocks[j].PrefixHash)))
                    {
                        hit = j;
                        break;
                    }
                }
            }
            long read = 0;
            if (hit >= 0)
            {
                read = blocks[hit].CumulativeTokens;
                var key = (apiKey, model, blocks[hit].PrefixHash);
                var entry = _entries[key];
                _entries[key] = entry with { ExpiresAt = now + entry.Ttl };
            }

            long write5m = 0, write1h = 0, writtenUpTo = read;
            foreach (var breakpoint in breakpoints)
            {
                var block = blocks[breakpoint];
                var ttl = block.BreakpointTtl == "1h" ? TimeSpan.FromHours(1) : TimeSpan.FromMinutes(5);
                if (block.CumulativeTokens < minCacheableTokens)
                {
                    continue;
                }
                var key = (apiKey, model, block.PrefixHash);
                // A longer TTL already stored for this prefix is kept; the expiry moves forward.
                var keep = _entries.TryGetValue(key, out var existing) && existing.Ttl > ttl ? existing.Ttl : ttl;
                _entries[key] = new Entry(keep, now + keep);
                if (breakpoint <= hit)
                {
                    continue;
                }
                var written = block.CumulativeTokens - writtenUpTo;
                if (block.BreakpointTtl == "1h")
                {
                    write1h += written;
                }
                else
                {
                    write5m += written;
                }
                writtenUpTo = block.CumulativeTokens;
            }
            return new CacheAccounting(layout.TotalTokens - read - write5m - write1h, read, write5m, write1h);
        }
    }

    private void Prune(DateTimeOffset now)
    {
        foreach (var key in _entries.Where(p => p.Value.ExpiresAt <= now).Select(p => p.Key).ToList())
        {
            _entries.Remove(key);
        }
    }

    private sealed record Entry(TimeSpan Ttl, DateTimeOffset ExpiresAt);
}
