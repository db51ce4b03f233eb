using System.Globalization;
using System.Text;
using System.Text.Json;
using StackExchange.Redis;

namespace ConversationLedger.Redis;

/// <summary>
/// A store on Redis (StackExchange.Redis). Each thread is a head hash, an entry hash (field = sequence) and
/// sorted-set indexes (messages by ordinal, messages by tokens before them, pins, edits by target), so every window
/// is a handful of range reads inside one Lua script. Appends run as one Lua script that checks the expected
/// sequence and writes everything (an append of thousands of entries is first staged in batches under temporary keys,
/// then checked and published by one script), so they are atomic and a lost race is a
/// <see cref="ConcurrencyConflictException"/>.
/// </summary>
/// <remarks>
/// <para><b>Durability</b> is the server's: an append is acknowledged when Redis has applied it in memory. For zero
/// acknowledged-turn loss run Redis with <c>appendonly yes</c> and <c>appendfsync always</c> (every write fsync'd
/// to the AOF before the reply); with <c>appendfsync everysec</c> up to a second of turns can be lost on a crash,
/// and without persistence everything is lost on restart.</para>
/// <para>Scripts compute key names from their arguments, so the store targets a single Redis server (or a primary
/// with replicas), not Redis Cluster. Thread-safe; share one instance (and one multiplexer) per process.</para>
/// </remarks>
public sealed class RedisConversationStore : IConversationStore
{
    /// <summary>The schema version this library writes and reads.</summary>
    public const int SchemaVersion = 1;

    private readonly IConnectionMultiplexer _redis;
    private readonly string _prefix;
    private readonly TimeProvider _time;
    private volatile bool _schemaReady;

    /// <summary>Creates a store over a connected multiplexer (owned by the caller).</summary>
    /// <param name="redis">The connection.</param>
    /// <param name="keyPrefix">Prefix of every key the store writes. <value>The default value is <c>cl:</c>.</value></param>
    /// <param name="timeProvider">The clock for recorded times; the system clock when null.</param>
    public RedisConversationStore(IConnectionMultiplexer redis, string keyPrefix = "cl:", TimeProvider? timeProvider = null)
    {
        _redis = redis ?? throw new ArgumentNullException(nameof(redis));
        ArgumentException.ThrowIfNullOrEmpty(keyPrefix);
        _prefix = keyPrefix;
        _time = timeProvider ?? TimeProvider.System;
    }

    private IDatabase Db => _redis.GetDatabase();

    /// <inheritdoc />
    public async Task<ThreadHead> GetHeadAsync(ThreadKey key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        await EnsureSchemaAsync(cancellationToken);
        var fields = await Db.HashGetAllAsync(Keys(key).Head).WaitAsync(cancellationToken);
        return ParseHead(key, fields.Select(f => ((string)f.Name!, f.Value)));
    }

    /// <inheritdoc />
    public async Task<AppendResult> AppendAsync(ThreadKey key, long expectedSequence, IReadOnlyList<LedgerEntry> entries, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(entries);
        ArgumentOutOfRangeException.ThrowIfNegative(expectedSequence);
        var head = await GetHeadAsync(key, cancellationToken);
        if (head.LastSequence != expectedSequence)
        {
            throw new ConcurrencyConflictException(key, expectedSequence, head.LastSequence);
        }
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
    public async Task<ThreadWindow> ReadWindowAsync(ThreadKey key, WindowSpec window, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(window);
        await EnsureSchemaAsync(cancellationToken);
        var k = Keys(key);
        var result = (RedisResult[])(await Db.ScriptEvaluateAsync(WindowScript,
            [k.Head, k.Entries, k.Messages, k.Tokens, k.Pins, k.Edits],
            [
                window.FromMessage ?? 1,
                window.LastMessages is { } last ? last : -1,
                window.LastTokens is { } budget ? budget.ToString(CultureInfo.InvariantCulture) : "",
            ]).WaitAsync(cancellationToken))!;
        var head = ParseHead(key, Pairs((RedisResult[])result[0]!));
        if (result.Length < 2)
        {
            throw new LedgerFormatException($"Redis key {k.Head} holds a head this store did not write");
        }
        var rows = (RedisResult[])result[1]!;
        var entries = new List<LedgerEntry>(rows.Length / 2);
        for (var i = 0; i < rows.Length; i += 2)
        {
            entries.Add(DecodeRow(k.Entries, (long)rows[i], (RedisValue)rows[i + 1]));
        }
        return new ThreadWindow(head, entries);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<LedgerEntry>> ReadEntriesAsync(ThreadKey key, long afterSequence, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentOutOfRangeException.ThrowIfNegative(afterSequence);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        var head = await GetHeadAsync(key, cancellationToken);
        var count = Math.Min(limit, head.LastSequence - afterSequence);
        if (count <= 0)
        {
            return [];
        }
        var fields = new RedisValue[count];
        for (var i = 0; i < count; i++)
        {
            fields[i] = afterSequence + 1 + i;
        }
        var k = Keys(key);
        var rows = await Db.HashGetAsync(k.Entries, fields).WaitAsync(cancellationToken);
        var entries = new List<LedgerEntry>(rows.Length);
        for (var i = 0; i < rows.Length; i++)
        {
            // No rows at all and no head: erased after the head was read. A row missing from a thread is not ours.
            if (rows[i].IsNull && i == 0 && !await Db.KeyExistsAsync(k.Head).WaitAsync(cancellationToken))
            {
                break;
            }
            entries.Add(DecodeRow(k.Entries, afterSequence + 1 + i, rows[i]));
        }
        return entries;
    }

    /// <inheritdoc />
    public async Task<ThreadPage> ListThreadsAsync(string tenant, string? scope, PageRequest page, CancellationToken cancellationToken = default)
    {
        ThreadKey.CheckPart(tenant, nameof(tenant));
        ArgumentNullException.ThrowIfNull(page);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(page.Limit, nameof(page));
        await EnsureSchemaAsync(cancellationToken);
        var after = ThreadCursor.Decode(page.Cursor);
        var limit = Math.Min(page.Limit, PageRequest.MaxLimit);
        // Members sort newest first by byte order (see Member); the cursor is the member after which to continue.
        var index = scope is null ? TenantIndex(tenant) : ScopeIndex(tenant, scope);
        var start = after is null ? "-" : "(" + Member(after.UpdatedAt, after.Scope, after.ThreadId);
        var result = (RedisResult[])(await Db.ScriptEvaluateAsync(ListScript, [index],
            [start, limit + 1, _prefix, tenant]).WaitAsync(cancellationToken))!;
        var heads = new List<ThreadHead>();
        for (var i = 0; i < result.Length; i += 2)
        {
            var (_, s, t) = ParseMember((string)result[i]!);
            var head = ParseHead(new ThreadKey(tenant, s, t), Pairs((RedisResult[])result[i + 1]!));
            if (head.Exists)
            {
                heads.Add(head);
            }
        }
        return ThreadPage.FromOneMore(heads, limit);
    }

    /// <inheritdoc />
    public async Task<ThreadHead> ForkAsync(ThreadKey source, long atSequence, ThreadKey target, CancellationToken cancellationToken = default)
    {
        StoreArguments.CheckFork(source, target);
        var from = await GetHeadAsync(source, cancellationToken);
        if (!from.Exists)
        {
            throw new LedgerNotFoundException($"thread {source} does not exist");
        }
        if (atSequence < 1 || atSequence > from.LastSequence)
        {
            throw new LedgerNotFoundException($"thread {source} has no entry {atSequence} (it has {from.LastSequence})");
        }
        var existing = await GetHeadAsync(target, cancellationToken);
        if (existing.Exists)
        {
            throw new ConcurrencyConflictException(target, 0, existing.LastSequence);
        }
        // Entries are immutable, so the prefix read in pages is exactly what a copy inside the server would see.
        var prefix = new List<LedgerEntry>((int)Math.Min(atSequence, 100_000));
        while (prefix.Count < atSequence)
        {
            var page = await ReadEntriesAsync(source, prefix.Count, (int)Math.Min(1000, atSequence - prefix.Count), cancellationToken);
            if (page.Count == 0)
            {
                throw new LedgerNotFoundException($"thread {source} was erased while it was being forked");
            }
            prefix.AddRange(page);
        }
        var last = prefix[^1];
        var copied = ThreadHead.Empty(target) with
        {
            LastSequence = last.Sequence,
            RunningTokens = last.RunningTokens,
            RunningMessages = last.RunningMessages,
            ResetSequence = prefix.LastOrDefault(e => e.Kind == EntryKind.Reset)?.Sequence ?? 0,
        };
        var (stamped, head) = copied.Advance([new ForkEntry(source, atSequence)], _time.GetUtcNow());
        head = head with { CreatedAt = head.UpdatedAt };
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

    /// <inheritdoc />
    /// <remarks>
    /// One string key per leased thread holding the holder's id, with a time to live (<c>PX</c>): Redis drops it when it
    /// expires, by the server's clock. Taking and renewing is one script (take if absent, renew if the holder's own), and so
    /// is releasing (delete only if the holder's own). A tenant delete removes the leases of the threads it erases; a lease on
    /// a thread that has no entries yet is left to expire.
    /// </remarks>
    public async Task<bool> TryAcquireTurnLeaseAsync(ThreadKey key, string holder, TimeSpan duration, CancellationToken cancellationToken = default)
    {
        StoreArguments.CheckLease(key, holder, duration);
        var milliseconds = Math.Max(1L, (long)Math.Ceiling(duration.TotalMilliseconds));
        var taken = await Db.ScriptEvaluateAsync(AcquireLeaseScript, [LeaseKey(key)], [holder, milliseconds]).WaitAsync(cancellationToken);
        return (long)taken == 1;
    }

    /// <inheritdoc />
    public async Task<bool> ReleaseTurnLeaseAsync(ThreadKey key, string holder, CancellationToken cancellationToken = default)
    {
        StoreArguments.CheckLease(key, holder);
        var released = await Db.ScriptEvaluateAsync(ReleaseLeaseScript, [LeaseKey(key)], [holder]).WaitAsync(cancellationToken);
        return (long)released == 1;
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

    private async Task EnsureSchemaAsync(CancellationToken cancellationToken)
    {
        if (_schemaReady)
        {
            return;
        }
        RedisKey versionKey = _prefix + "schema_version";
        await Db.StringSetAsync(versionKey, SchemaVersion, when: When.NotExists).WaitAsync(cancellationToken);
        var version = Number(versionKey, null, await Db.StringGetAsync(versionKey).WaitAsync(cancellationToken));
        if (version > SchemaVersion)
        {
            throw new LedgerException($"the Redis keys have schema version {version}, newer than this library's {SchemaVersion}; upgrade ConversationLedger.Redis");
        }
        _schemaReady = true;
    }

    // Row = the entry's columns as one small JSON object; the payload is a JSON string, so it round-trips byte for byte.
    private static string EncodeRow(LedgerEntry entry) => JsonSerializer.Serialize(new Row(
        EntryCodec.KindName(entry.Kind), EntryCodec.EncodePayload(entry), EntryCodec.TargetOf(entry), entry.TurnId,
        entry.RecordedAt.UtcTicks, entry.Tokens, entry.RunningTokens, entry.RunningMessages), RowContext.Default.Row);

    // Everything read back from Redis is parsed here: data this store did not write (tampered, truncated) is a
    // LedgerFormatException naming the key and field, as SQLite and PostgreSQL report a malformed row.
    private static LedgerEntry DecodeRow(RedisKey key, long sequence, RedisValue json)
    {
        try
        {
            var row = JsonSerializer.Deserialize((string?)json ?? throw new JsonException("the row is missing"), RowContext.Default.Row)
                ?? throw new JsonException("the row is null");
            return EntryCodec.Decode(row.Kind, row.Payload, sequence, new DateTimeOffset(row.At, TimeSpan.Zero), row.Turn,
                row.Tokens, row.RunningTokens, row.RunningMessages);
        }
        catch (Exception ex) when (ex is JsonException or LedgerFormatException or ArgumentOutOfRangeException)
        {
            throw new LedgerFormatException($"Redis key {key} field \"{sequence}\" is not an entry: {ex.Message}", ex);
        }
    }

    private static IEnumerable<(string Name, RedisValue Value)> Pairs(RedisResult[] flat)
    {
        for (var i = 0; i + 1 < flat.Length; i += 2)
        {
            yield return ((string)flat[i]!, (RedisValue)flat[i + 1]);
        }
    }

    // Head fields only some threads have; the window script reads them, so they are checked too.
    private static readonly string[] OptionalHeadFields = ["reset_messages", "system", "summary"];

    private ThreadHead ParseHead(ThreadKey key, IEnumerable<(string Name, RedisValue Value)> fields)
    {
        var f = fields.ToDictionary(p => p.Name, p => p.Value);
        if (f.Count == 0)
        {
            return ThreadHead.Empty(key);
        }
        var head = Keys(key).Head;
        foreach (var optional in OptionalHeadFields)
        {
            if (f.TryGetValue(optional, out var value))
            {
                Number(head, optional, value);
            }
        }
        long Field(string name) => f.TryGetValue(name, out var value)
            ? Number(head, name, value)
            : throw new LedgerFormatException($"Redis key {head} has no field \"{name}\"");
        DateTimeOffset Time(string name) => Field(name) is var ticks && ticks >= 0 && ticks <= DateTimeOffset.MaxValue.UtcTicks
            ? new DateTimeOffset(ticks, TimeSpan.Zero)
            : throw new LedgerFormatException($"Redis key {head} field \"{name}\" holds {ticks}, not a time");
        return new ThreadHead
        {
            Key = key,
            LastSequence = Field("last"),
            RunningTokens = Field("tokens"),
            RunningMessages = Field("messages"),
            ResetSequence = Field("reset"),
            CreatedAt = Time("created"),
            UpdatedAt = Time("updated"),
        };
    }

    private static long Number(RedisKey key, string? field, RedisValue value) =>
        long.TryParse((string?)value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number)
            ? number
            : throw new LedgerFormatException(
                $"Redis key {key}{(field is null ? "" : $" field \"{field}\"")} holds \"{value}\", not a whole number");

    // Length-prefixed parts: unambiguous whatever characters the parts hold (and never "staging:…").
    private ThreadKeys Keys(ThreadKey key) => Keys(Part(key.Tenant) + Part(key.Scope) + Part(key.ThreadId));

    private ThreadKeys Keys(string id) => new(_prefix + "h:" + id, _prefix + "e:" + id, _prefix + "m:" + id, _prefix + "k:" + id,
        _prefix + "p:" + id, _prefix + "d:" + id);

    private RedisKey LeaseKey(ThreadKey key) => _prefix + "l:" + Part(key.Tenant) + Part(key.Scope) + Part(key.ThreadId);

    private RedisKey TenantIndex(string tenant) => _prefix + "tn:" + Part(tenant);

    private RedisKey ScopeIndex(string tenant, string scope) => _prefix + "ts:" + Part(tenant) + Part(scope);

    // The length is in UTF-8 bytes, as Lua's string.len counts it (the list script rebuilds key names).
    private static string Part(string value) =>
        Encoding.UTF8.GetByteCount(value).ToString(CultureInfo.InvariantCulture) + ":" + value;

    // Listing order by byte order: inverted update time (fixed width), then scope and thread id after a \0 separator,
    // which sorts below every character a key part may hold (control characters are refused).
    private static string Member(DateTimeOffset updatedAt, string scope, string threadId) =>
        $"{(long.MaxValue - updatedAt.UtcTicks).ToString("D19", CultureInfo.InvariantCulture)}\0{scope}\0{threadId}";

    private static (long Ticks, string Scope, string ThreadId) ParseMember(string member)
    {
        var parts = member.Split('\0');
        return (long.MaxValue - long.Parse(parts[0], CultureInfo.InvariantCulture), parts[1], parts[2]);
    }

    private sealed record ThreadKeys(string Head, string Entries, string Messages, string Tokens, string Pins, string Edits);

    internal sealed record Row(string Kind, string Payload, long? Target, string? Turn, long At, int Tokens, long RunningTokens, long RunningMessages);

    // Lua shared by the write scripts. ARGV of a write: expected, last, tokens, messages, reset, created, updated, member,
    // reset_messages, system, summary ('' = unchanged), then n and per entry: sequence, kind, running_messages,
    // tokens_before, target, row. A stage script's ARGV: lifetime in ms, then n and the entries.
    private const string WriteEntriesLua = SendLua + """
        local function writeEntries(entries, messages, tokens, pins, edits, at)
          local rows, byOrdinal, byTokens, pinned, edited = {}, {}, {}, {}, {}
          local function add(list, a, b)
            list[#list + 1] = a
            list[#list + 1] = b
          end
          for i = 0, tonumber(ARGV[at]) - 1 do
            local b = at + 1 + i * 6
            local seq = ARGV[b]
            local kind = ARGV[b + 1]
            add(rows, seq, ARGV[b + 5])
            if kind == 'message' then
              add(byOrdinal, ARGV[b + 2], seq)
              -- Zero-padded: equal token scores then sort by sequence (members of equal score sort by bytes).
              add(byTokens, ARGV[b + 3], string.format('%015d', tonumber(seq)))
            elseif kind == 'pin' then
              add(pinned, seq, seq .. ':' .. ARGV[b + 4])
            elseif kind == 'edit' then
              add(edited, ARGV[b + 4], seq)
            end
          end
          send('HSET', entries, rows)
          send('ZADD', messages, byOrdinal)
          send('ZADD', tokens, byTokens)
          send('ZADD', pins, pinned)
          send('ZADD', edits, edited)
        end

        """;

    // Variadic commands, 500 pairs per call (unpack takes a few thousand values at a time): a call per entry made a
    // 5,000-entry batch ten times slower.
    private const string SendLua = """
        local function send(command, key, pairs)
          for i = 1, #pairs, 1000 do redis.call(command, key, unpack(pairs, i, math.min(i + 999, #pairs))) end
        end

        """;

    private const string WriteHeadLua = """
        local function writeHead(head, tenantIndex, scopeIndex)
          local old = redis.call('HGET', head, 'member')
          if old then
            redis.call('ZREM', tenantIndex, old)
            redis.call('ZREM', scopeIndex, old)
          end
          redis.call('HSET', head, 'last', ARGV[2], 'tokens', ARGV[3], 'messages', ARGV[4], 'reset', ARGV[5],
            'created', ARGV[6], 'updated', ARGV[7], 'member', ARGV[8])
          for i, name in ipairs({ 'reset_messages', 'system', 'summary' }) do
            if ARGV[8 + i] ~= '' then redis.call('HSET', head, name, ARGV[8 + i]) end
          end
          redis.call('ZADD', tenantIndex, 0, ARGV[8])
          redis.call('ZADD', scopeIndex, 0, ARGV[8])
        end

        """;

    // KEYS: head, entries, messages, tokens, pins, edits, tenant index, scope index.
    // Returns the thread's last sequence before the call: equal to expected when the append was stored.
    // (Compared as text: the store writes numbers in one canonical form.)
    private const string AppendScript = WriteEntriesLua + WriteHeadLua + """
        local last = redis.call('HGET', KEYS[1], 'last') or '0'
        if last ~= ARGV[1] then return last end
        writeEntries(KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], 12)
        writeHead(KEYS[1], KEYS[7], KEYS[8])
        return last
        """;

    // KEYS: staged entries, messages, tokens, pins, edits. Each batch renews their lifetime.
    private const string StageScript = WriteEntriesLua + """
        writeEntries(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], 2)
        for i = 1, 5 do redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
        return 0
        """;

    // KEYS: head, entries, messages, tokens, pins, edits, tenant index, scope index, then the five staged keys.
    // Moves the staged keys into the thread's (a rename for a new thread) and writes the head, or on a conflict drops
    // them. Returns the thread's last sequence before the call.
    private const string PublishScript = SendLua + WriteHeadLua + """
        local last = redis.call('HGET', KEYS[1], 'last') or '0'
        if last ~= ARGV[1] then
          redis.call('DEL', KEYS[9], KEYS[10], KEYS[11], KEYS[12], KEYS[13])
          return last
        end
        for i = 2, 6 do
          local staged = KEYS[i + 7]
          if redis.call('EXISTS', staged) == 0 then
          elseif redis.call('EXISTS', KEYS[i]) == 0 then
            redis.call('RENAME', staged, KEYS[i])
            redis.call('PERSIST', KEYS[i])
          elseif i == 2 then
            send('HSET', KEYS[2], redis.call('HGETALL', staged))
            redis.call('DEL', staged)
          else
            redis.call('ZUNIONSTORE', KEYS[i], 2, KEYS[i], staged)
            redis.call('DEL', staged)
          end
        end
        writeHead(KEYS[1], KEYS[7], KEYS[8])
        return last
        """;

    // KEYS: head, entries, messages, tokens, pins, edits. ARGV: from_message, last_messages (-1 = unset), last_tokens ('' = unset).
    // Returns { head fields, { sequence, row, … } } in sequence order; every read is a lookup or a range.
    private const string WindowScript = """
        local head = redis.call('HGETALL', KEYS[1])
        if #head == 0 then return { head, {} } end
        local h = {}
        for i = 1, #head, 2 do h[head[i]] = head[i + 1] end
        -- A head this store did not write reads no rows (the caller's parser names what is wrong) instead of failing here.
        for _, name in ipairs({ 'tokens', 'messages', 'reset', 'reset_messages', 'system', 'summary' }) do
          if h[name] and not string.match(h[name], '^[-+]?%d+$') then return { head } end
        end
        if not (h['tokens'] and h['messages'] and h['reset']) then return { head } end
        local boundary = tonumber(h['reset'])
        local count = tonumber(h['messages'])
        local lo = math.max(tonumber(ARGV[1]), tonumber(h['reset_messages'] or '0') + 1)
        if tonumber(ARGV[2]) >= 0 then lo = math.max(lo, count - tonumber(ARGV[2]) + 1) end
        if ARGV[3] ~= '' then
          local floor = tonumber(h['tokens']) - tonumber(ARGV[3])
          local first = redis.call('ZRANGEBYSCORE', KEYS[4], floor, '+inf', 'LIMIT', 0, 1)
          if #first == 0 then lo = count + 1
          else lo = math.max(lo, tonumber(redis.call('ZSCORE', KEYS[3], tostring(tonumber(first[1]))))) end
        end
        local picked = {}
        local shown = {}
        for _, seq in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], lo, '+inf')) do
          picked[tonumber(seq)] = true
          shown[#shown + 1] = seq
        end
        for _, pin in ipairs(redis.call('ZRANGEBYSCORE', KEYS[5], '(' .. boundary, '+inf')) do
          local seq, target = string.match(pin, '^(%d+):(%d+)$')
          picked[tonumber(seq)] = true
          if redis.call('ZSCORE', KEYS[3], target) and not picked[tonumber(target)] then
            picked[tonumber(target)] = true
            shown[#shown + 1] = target
          end
        end
        if h['system'] then picked[tonumber(h['system'])] = true end
        if boundary > 0 then picked[boundary] = true end
        if h['summary'] and tonumber(h['summary']) > boundary then picked[tonumber(h['summary'])] = true end
        for _, seq in ipairs(shown) do
          for _, edit in ipairs(redis.call('ZRANGEBYSCORE', KEYS[6], seq, seq)) do picked[tonumber(edit)] = true end
        end
        local order = {}
        for seq, _ in pairs(picked) do order[#order + 1] = seq end
        table.sort(order)
        local rows = {}
        -- HMGET in chunks: Lua's unpack has a small argument limit.
        for from = 1, #order, 1000 do
          local chunk = {}
          for i = from, math.min(from + 999, #order) do chunk[#chunk + 1] = order[i] end
          local values = redis.call('HMGET', KEYS[2], unpack(chunk))
          for i, seq in ipairs(chunk) do
            rows[#rows + 1] = seq
            rows[#rows + 1] = values[i]
          end
        end
        return { head, rows }
        """;

    // KEYS: one index. ARGV: start ('-' or '(' .. member), count, key prefix, tenant. Returns { member, head fields, … }.
    private const string ListScript = """
        local members = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], '+', 'LIMIT', 0, tonumber(ARGV[2]))
        local out = {}
        local tenant = ARGV[4]
        for _, m in ipairs(members) do
          local sep1 = string.find(m, '\0', 1, true)
          local sep2 = string.find(m, '\0', sep1 + 1, true)
          local scope = string.sub(m, sep1 + 1, sep2 - 1)
          local thread = string.sub(m, sep2 + 1)
          local id = string.len(tenant) .. ':' .. tenant .. string.len(scope) .. ':' .. scope .. string.len(thread) .. ':' .. thread
          out[#out + 1] = m
          out[#out + 1] = redis.call('HGETALL', ARGV[3] .. 'h:' .. id)
        end
        return out
        """;

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

    // KEYS: the lease. ARGV: holder, milliseconds. Takes a free (or expired: Redis dropped it) lease, or renews the holder's own.
    private const string AcquireLeaseScript = """
        local holder = redis.call('GET', KEYS[1])
        if holder and holder ~= ARGV[1] then
          return 0
        end
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
        return 1
        """;

    // KEYS: the lease. ARGV: holder. Deletes it only if that holder still holds it.
    private const string ReleaseLeaseScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then
          return redis.call('DEL', KEYS[1])
        end
        return 0
        """;
}

// Every column is required and only target and turn may be null: a row missing one is not an entry.
[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.SnakeCaseLower,
    RespectRequiredConstructorParameters = true, RespectNullableAnnotations = true)]
[System.Text.Json.Serialization.JsonSerializable(typeof(RedisConversationStore.Row))]
internal sealed partial class RowContext : System.Text.Json.Serialization.JsonSerializerContext;
