using System.Globalization;
using ConversationLedger.Storage;
using StackExchange.Redis;

namespace ConversationLedger.Redis;

// Reads: the window a policy asks for (one script), pages of entries and thread listings.
public sealed partial class RedisConversationStore
{
    /// <inheritdoc />
    public async Task<ThreadWindow> ReadWindowAsync(ThreadKey key, WindowSpec window, CancellationToken cancellationToken = default)
    {
        StoreArguments.CheckWindow(key, window);
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
        StoreArguments.CheckEntries(key, afterSequence, limit);
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
        var (after, limit) = StoreArguments.CheckList(tenant, page);
        await EnsureSchemaAsync(cancellationToken);
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
        return ThreadCursor.PageFromOneMore(heads, limit);
    }

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
}
