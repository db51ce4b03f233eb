using ConversationLedger.Storage;
using Npgsql;
using NpgsqlTypes;

namespace ConversationLedger.Postgres;

// Reads: the window a policy asks for (as of one head), pages of entries and thread listings.
public sealed partial class PostgresConversationStore
{
    /// <inheritdoc />
    /// <remarks>
    /// Two round trips and no explicit transaction: the head and the window's bounds, then every part of the window in one
    /// batch that ends by reading the head again. Entries are immutable and a thread only grows until it is erased, so the
    /// parts, each cut at the first head's sequence, are what that head had — unless the thread was erased (and maybe made
    /// again) in between, which the second head shows (gone, or created at another time), and then the read starts over.
    /// </remarks>
    public async Task<ThreadWindow> ReadWindowAsync(ThreadKey key, WindowSpec window, CancellationToken cancellationToken = default)
    {
        StoreArguments.CheckWindow(key, window);
        await using var connection = await OpenAsync(cancellationToken);
        return (await ReadWindowAsync(connection, key, window, takeLease: null, cancellationToken))!;
    }

    /// <inheritdoc />
    /// <remarks>
    /// Two round trips, as <see cref="ReadWindowAsync(ThreadKey, WindowSpec, CancellationToken)"/> takes: the lease's upsert
    /// goes in the batch that reads the head and the window's bounds (one transaction, whose commit is the lease's), and the
    /// parts are read only when the lease was taken.
    /// </remarks>
    public async Task<ThreadWindow?> TryAcquireTurnLeaseAndReadWindowAsync(ThreadKey key, string holder, TimeSpan duration, WindowSpec window,
        CancellationToken cancellationToken = default)
    {
        StoreArguments.CheckLease(key, holder, duration);
        StoreArguments.CheckWindow(key, window);
        await using var connection = await OpenAsync(cancellationToken);
        return await ReadWindowAsync(connection, key, window, LeaseCommand(key, holder, duration), cancellationToken);
    }

    // The window; with takeLease, that upsert first, in the bounds' round trip, and null when it took nothing.
    private static async Task<ThreadWindow?> ReadWindowAsync(NpgsqlConnection connection, ThreadKey key, WindowSpec window, NpgsqlBatchCommand? takeLease,
        CancellationToken cancellationToken)
    {
        while (true)
        {
            // The head and the window's first message ordinal in one round trip, so the window query gets a constant lower
            // bound and the planner sees a short index range (a bound computed inside the query looks like a third of the table).
            var bounds = BatchCommand(BoundsSql, key);
            bounds.Parameters.Add(new NpgsqlParameter<long?>("budget", NpgsqlDbType.Bigint) { TypedValue = window.LastTokens });
            await using var batch = new NpgsqlBatch(connection);
            if (takeLease is not null)
            {
                batch.BatchCommands.Add(takeLease);
            }
            batch.BatchCommands.Add(bounds);
            ThreadHead head;
            long lo;
            await using (var reader = await batch.ExecuteReaderAsync(cancellationToken))
            {
                if (takeLease is not null)
                {
                    // The upsert returns its row only when it took or renewed the lease.
                    if (!await reader.ReadAsync(cancellationToken))
                    {
                        return null;
                    }
                    await reader.NextResultAsync(cancellationToken);
                    takeLease = null; // taken: a second pass reads the window only
                }
                if (!await reader.ReadAsync(cancellationToken))
                {
                    return new ThreadWindow(ThreadHead.Empty(key), []);
                }
                head = ReadHead(reader, key, 0);
                lo = WindowBounds.FirstMessage(window, head, reader.GetInt64(6), reader.GetInt64(7));
            }
            if (await ReadPartsAsync(connection, head, lo, cancellationToken) is { } entries)
            {
                return new ThreadWindow(head, entries);
            }
        }
    }

    // The window's parts as of the head, or null when the thread was erased since that head was read.
    private static async Task<LedgerEntry[]?> ReadPartsAsync(NpgsqlConnection connection, ThreadHead head, long lo, CancellationToken cancellationToken)
    {
        var key = head.Key;
        var last = ("last", (object)head.LastSequence);
        var boundary = ("boundary", (object)head.ResetSequence);
        // Simple queries with constant bounds: their plans stay index lookups and short ranges even before statistics catch
        // up with a fast-growing thread, which one big join did not.
        await using var batch = new NpgsqlBatch(connection)
        {
            BatchCommands =
            {
                BatchCommand(MessagesSql, key, ("lo", lo), last),
                BatchCommand(PinsSql, key, boundary, last),
                BatchCommand(NewestOfKindSql, key, ("kind", "system_prompt"), ("boundary", 0L), last),
                BatchCommand(NewestOfKindSql, key, ("kind", "summary"), boundary, last),
                BatchCommand(NewestOfKindSql, key, ("kind", "reset"), ("boundary", 0L), last),
                BatchCommand(PinnedMessagesSql, key, boundary, last),
                BatchCommand(EditsOfWindowSql, key, ("lo", lo), last),
                BatchCommand(EditsOfPinnedSql, key, boundary, last),
                BatchCommand(HeadSql, key),
            },
        };
        var picked = new SortedDictionary<long, LedgerEntry>();
        var edits = new List<EditEntry>();
        ThreadHead? again = null;
        await using (var reader = await batch.ExecuteReaderAsync(cancellationToken))
        {
            var part = 0;
            do
            {
                var isHead = ++part == batch.BatchCommands.Count;
                while (await reader.ReadAsync(cancellationToken))
                {
                    if (isHead)
                    {
                        again = ReadHead(reader, key, 0);
                        continue;
                    }
                    var entry = EntryRows.Read(reader, RecordedAt(reader));
                    if (entry is EditEntry edit)
                    {
                        edits.Add(edit);
                    }
                    else
                    {
                        picked[entry.Sequence] = entry;
                    }
                }
            }
            while (await reader.NextResultAsync(cancellationToken));
        }
        if (again is null || again.CreatedAt != head.CreatedAt)
        {
            return null;
        }
        // The edits of every message returned (the window's and the pinned ones).
        foreach (var edit in edits.Where(e => picked.GetValueOrDefault(e.Target) is MessageEntry))
        {
            picked[edit.Sequence] = edit;
        }
        return [.. picked.Values];
    }

    // The head, the message ordinal at the newest reset, and the first message of a token budget (each an index lookup).
    private const string BoundsSql = """
        SELECT h.last_sequence, h.running_tokens, h.running_messages, h.reset_sequence, h.created_at, h.updated_at,
            COALESCE((SELECT e.running_messages FROM entries e
                      WHERE e.tenant = @t AND e.scope = @s AND e.thread_id = @id AND e.kind = 'reset' AND e.sequence = h.reset_sequence), 0),
            CASE WHEN @budget::bigint IS NULL THEN 0 ELSE COALESCE(
                (SELECT e.running_messages FROM entries e
                 WHERE e.tenant = @t AND e.scope = @s AND e.thread_id = @id AND e.kind = 'message'
                   AND e.running_tokens >= h.running_tokens - @budget AND e.running_tokens - e.tokens >= h.running_tokens - @budget
                 ORDER BY e.running_tokens, e.running_messages LIMIT 1), h.running_messages + 1) END
        FROM threads h WHERE h.tenant = @t AND h.scope = @s AND h.thread_id = @id
        """;

    // The window's parts, each cut at the head's sequence (@last); each an index lookup or a short index range. What depends
    // on another part is found by subquery, evaluated once (an array for = ANY, a first sequence): edits of the window are
    // those of a message from its first on, pinned messages and their edits those the pins name.
    private const string UpToHead = "AND sequence <= @last";
    private const string PinTargets = $"ARRAY(SELECT target FROM entries WHERE {ThreadFilter} AND kind = 'pin' AND sequence > @boundary {UpToHead})";
    internal const string MessagesSql = $"SELECT {Columns} FROM entries WHERE {ThreadFilter} AND kind = 'message' AND running_messages >= @lo {UpToHead} ORDER BY running_messages";
    internal const string PinsSql = $"SELECT {Columns} FROM entries WHERE {ThreadFilter} AND kind = 'pin' AND sequence > @boundary {UpToHead} ORDER BY kind, sequence";
    internal const string NewestOfKindSql = $"SELECT {Columns} FROM entries WHERE {ThreadFilter} AND kind = @kind AND sequence > @boundary {UpToHead} ORDER BY kind DESC, sequence DESC LIMIT 1";
    internal const string PinnedMessagesSql = $"SELECT {Columns} FROM entries WHERE {ThreadFilter} AND kind = 'message' AND sequence = ANY({PinTargets})";
    internal const string EditsOfWindowSql = $"""
        SELECT {Columns} FROM entries WHERE {ThreadFilter} AND kind = 'edit' {UpToHead} AND target >= (
            SELECT sequence FROM entries WHERE {ThreadFilter} AND kind = 'message' AND running_messages >= @lo {UpToHead} ORDER BY running_messages LIMIT 1)
        """;
    internal const string EditsOfPinnedSql = $"SELECT {Columns} FROM entries WHERE {ThreadFilter} AND kind = 'edit' {UpToHead} AND target = ANY({PinTargets})";

    internal static IReadOnlyList<string> WindowQueries { get; } = [MessagesSql, PinsSql, NewestOfKindSql, PinnedMessagesSql, EditsOfWindowSql, EditsOfPinnedSql];

    private static NpgsqlBatchCommand BatchCommand(string sql, ThreadKey key, params (string Name, object Value)[] parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        command.Parameters.AddWithValue("t", key.Tenant);
        command.Parameters.AddWithValue("s", key.Scope);
        command.Parameters.AddWithValue("id", key.ThreadId);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }
        return command;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<LedgerEntry>> ReadEntriesAsync(ThreadKey key, long afterSequence, int limit, CancellationToken cancellationToken = default)
    {
        StoreArguments.CheckEntries(key, afterSequence, limit);
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null,
            $"SELECT {Columns} FROM entries WHERE {ThreadFilter} AND sequence > @after ORDER BY sequence LIMIT @limit", key);
        command.Parameters.AddWithValue("after", afterSequence);
        command.Parameters.AddWithValue("limit", limit);
        return await ReadEntriesAsync(command, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<ThreadPage> ListThreadsAsync(string tenant, string? scope, PageRequest page, CancellationToken cancellationToken = default)
    {
        var (after, limit) = StoreArguments.CheckList(tenant, page);
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        // COLLATE "C": the cursor compares scope and thread id ordinally, like every other store.
        command.CommandText = $"""
            SELECT tenant, scope, thread_id, last_sequence, running_tokens, running_messages, reset_sequence, created_at, updated_at
            FROM threads WHERE tenant = @t {(scope is null ? "" : "AND scope = @s")}
            {(after is null ? "" : "AND (updated_at < @at OR (updated_at = @at AND (scope COLLATE \"C\" > @cs OR (scope = @cs AND thread_id COLLATE \"C\" > @cid))))")}
            ORDER BY updated_at DESC, scope COLLATE "C", thread_id COLLATE "C" LIMIT @limit
            """;
        command.Parameters.AddWithValue("t", tenant);
        command.Parameters.AddWithValue("s", (object?)scope ?? DBNull.Value);
        command.Parameters.AddWithValue("limit", limit + 1);
        if (after is not null)
        {
            command.Parameters.AddWithValue("at", after.UpdatedAt.ToUniversalTime());
            command.Parameters.AddWithValue("cs", after.Scope);
            command.Parameters.AddWithValue("cid", after.ThreadId);
        }
        var heads = new List<ThreadHead>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                heads.Add(ReadHead(reader, new ThreadKey(reader.GetString(0), reader.GetString(1), reader.GetString(2)), 3));
            }
        }
        return ThreadCursor.PageFromOneMore(heads, limit);
    }

    private static Task<IReadOnlyList<LedgerEntry>> ReadEntriesAsync(NpgsqlCommand command, CancellationToken cancellationToken) =>
        EntryRows.ReadAllAsync(command, RecordedAt, cancellationToken);

    private static DateTimeOffset RecordedAt(System.Data.Common.DbDataReader reader) => reader.GetFieldValue<DateTimeOffset>(EntryRows.RecordedAtColumn);
}
