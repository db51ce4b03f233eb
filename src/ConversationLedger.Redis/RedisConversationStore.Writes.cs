using ConversationLedger.Storage;
using StackExchange.Redis;

namespace ConversationLedger.Redis;

// Writes: appends and forks (one script, or staged batches published by one), and erasure.
public sealed partial class RedisConversationStore
{
    /// <inheritdoc />
    public async Task<AppendResult> AppendAsync(ThreadKey key, long expectedSequence, IReadOnlyList<LedgerEntry> entries, CancellationToken cancellationToken = default)
    {
        StoreArguments.CheckAppend(key, expectedSequence, entries);
        var head = await GetHeadAsync(key, cancellationToken);
        StoreConditions.ThrowIfMoved(head, expectedSequence);
        var (stamped, next) = head.Advance(entries, _time.GetUtcNow());
        // The script re-checks the expected sequence, so a writer that read the same head loses cleanly.
        var actual = await WriteAsync(key, expectedSequence, stamped, next, cancellationToken);
        if (actual != expectedSequence)
        {
            throw new ConcurrencyConflictException(key, expectedSequence, actual);
        }
        return new AppendResult(stamped, next);
    }

    /// <inheritdoc />
    public async Task<ThreadHead> ForkAsync(ThreadKey source, long atSequence, ThreadKey target, CancellationToken cancellationToken = default)
    {
        StoreArguments.CheckFork(source, target);
        StoreConditions.ThrowIfNoForkPoint(await GetHeadAsync(source, cancellationToken), atSequence);
        StoreConditions.ThrowIfForkTargetExists(await GetHeadAsync(target, cancellationToken));
        // Entries are immutable, so the prefix read in pages is exactly what a copy inside the server would see.
        var prefix = new List<LedgerEntry>((int)Math.Min(atSequence, 100_000));
        await foreach (var entry in this.ReadAllAsync(source, 0, atSequence, cancellationToken))
        {
            prefix.Add(entry);
        }
        if (prefix.Count < atSequence)
        {
            throw new LedgerNotFoundException($"thread {source} was erased while it was being forked");
        }
        var (stamped, head) = ThreadHeads.Copied(target, prefix).Fork(source, atSequence, _time.GetUtcNow());
        var actual = await WriteAsync(target, 0, [.. prefix, .. stamped], head, cancellationToken);
        if (actual != 0)
        {
            throw new ConcurrencyConflictException(target, 0, actual);
        }
        return head;
    }

    /// <inheritdoc />
    public async Task<bool> DeleteThreadAsync(ThreadKey key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        await EnsureSchemaAsync(cancellationToken);
        var k = Keys(key);
        var deleted = await Db.ScriptEvaluateAsync(DeleteScript,
            [k.Head, k.Entries, k.Messages, k.Tokens, k.Pins, k.Edits, TenantIndex(key.Tenant), ScopeIndex(key.Tenant, key.Scope), LeaseKey(key)])
            .WaitAsync(cancellationToken);
        return (long)deleted > 0;
    }

    /// <inheritdoc />
    public async Task<int> DeleteTenantAsync(string tenant, CancellationToken cancellationToken = default)
    {
        ThreadKey.CheckPart(tenant, nameof(tenant));
        await EnsureSchemaAsync(cancellationToken);
        var count = 0;
        // Erase thread by thread (each atomically) until the tenant's index is empty, so a huge tenant never blocks the server.
        while (true)
        {
            var members = await Db.SortedSetRangeByRankAsync(TenantIndex(tenant), 0, 99).WaitAsync(cancellationToken);
            if (members.Length == 0)
            {
                return count;
            }
            foreach (var member in members)
            {
                var (_, scope, thread) = ParseMember(member!);
                if (await DeleteThreadAsync(new ThreadKey(tenant, scope, thread), cancellationToken))
                {
                    count++;
                }
                else
                {
                    // An index member without a thread (should not happen): drop it so the loop ends.
                    await Db.SortedSetRemoveAsync(TenantIndex(tenant), member).WaitAsync(cancellationToken);
                }
            }
        }
    }

    /// <summary>Appends of more entries than this are staged in batches of this size and then published at once.</summary>
    internal const int BatchEntries = 5000;

    // Staged batches outlive a writer that died mid-append by this long at most.
    private static readonly TimeSpan StagingLifetime = TimeSpan.FromMinutes(10);

    // Writes the entries and the new head if the thread's last sequence is still the expected one; returns the last
    // sequence found. A script takes at most 2^20 arguments (six per entry), so a larger append (an import, a fork) is
    // staged under temporary keys in bounded batches, invisible to readers, and one script checks and publishes it.
    private async Task<long> WriteAsync(ThreadKey key, long expectedSequence, IReadOnlyList<LedgerEntry> entries, ThreadHead head, CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(cancellationToken);
        var k = Keys(key);
        RedisKey[] threadKeys = [k.Head, k.Entries, k.Messages, k.Tokens, k.Pins, k.Edits, TenantIndex(key.Tenant), ScopeIndex(key.Tenant, key.Scope)];
        RedisValue[] headArgs =
        [
            expectedSequence,
            head.LastSequence,
            head.RunningTokens,
            head.RunningMessages,
            head.ResetSequence,
            head.CreatedAt.UtcTicks,
            head.UpdatedAt.UtcTicks,
            Member(head.UpdatedAt, key.Scope, key.ThreadId),
            // What the window script needs from the newest reset, system prompt and summary ('' = not among these entries).
            Newest(entries, EntryKind.Reset)?.RunningMessages ?? RedisValue.EmptyString,
            Newest(entries, EntryKind.SystemPrompt)?.Sequence ?? RedisValue.EmptyString,
            Newest(entries, EntryKind.Summary)?.Sequence ?? RedisValue.EmptyString,
        ];
        if (entries.Count <= BatchEntries)
        {
            var result = await Db.ScriptEvaluateAsync(AppendScript, threadKeys, [.. headArgs, .. EntryArgs(entries)]).WaitAsync(cancellationToken);
            return Number(k.Head, "last", (RedisValue)result);
        }
        var staged = Keys("staging:" + Guid.NewGuid().ToString("N"));
        RedisKey[] stagedKeys = [staged.Entries, staged.Messages, staged.Tokens, staged.Pins, staged.Edits];
        try
        {
            for (var from = 0; from < entries.Count; from += BatchEntries)
            {
                var batch = entries.Skip(from).Take(BatchEntries).ToArray();
                await Db.ScriptEvaluateAsync(StageScript, stagedKeys, [(long)StagingLifetime.TotalMilliseconds, .. EntryArgs(batch)])
                    .WaitAsync(cancellationToken);
            }
            var result = await Db.ScriptEvaluateAsync(PublishScript, [.. threadKeys, .. stagedKeys], headArgs).WaitAsync(cancellationToken);
            return Number(k.Head, "last", (RedisValue)result);
        }
        catch
        {
            // Best effort (the keys expire anyway); the publish script removes them itself on success and on a conflict.
            await Db.KeyDeleteAsync(stagedKeys, CommandFlags.FireAndForget);
            throw;
        }
    }

    private static LedgerEntry? Newest(IReadOnlyList<LedgerEntry> entries, EntryKind kind) => entries.LastOrDefault(e => e.Kind == kind);

    // Per entry: sequence, kind, running_messages, tokens_before, target, row.
    private static RedisValue[] EntryArgs(IReadOnlyList<LedgerEntry> entries)
    {
        var args = new RedisValue[1 + entries.Count * 6];
        args[0] = entries.Count;
        for (var i = 0; i < entries.Count; i++)
        {
            var entry = entries[i];
            args[1 + i * 6] = entry.Sequence;
            args[2 + i * 6] = EntryCodec.KindName(entry.Kind);
            args[3 + i * 6] = entry.RunningMessages;
            args[4 + i * 6] = entry.RunningTokens - entry.Tokens;
            args[5 + i * 6] = EntryCodec.TargetOf(entry) ?? 0;
            args[6 + i * 6] = EncodeRow(entry);
        }
        return args;
    }

    // KEYS: head, entries, messages, tokens, pins, edits, tenant index, scope index. Returns 1 when the thread existed.
    private const string DeleteScript = """
        local member = redis.call('HGET', KEYS[1], 'member')
        if member then
          redis.call('ZREM', KEYS[7], member)
          redis.call('ZREM', KEYS[8], member)
        end
        local existed = redis.call('EXISTS', KEYS[1])
        redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[9])
        return existed
        """;
}
