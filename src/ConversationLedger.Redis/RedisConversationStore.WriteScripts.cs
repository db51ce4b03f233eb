namespace ConversationLedger.Redis;

// The Lua of appends: each script checks the expected sequence and writes entries, indexes and head at once.
public sealed partial class RedisConversationStore
{
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
}
