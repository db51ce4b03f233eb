using ConversationLedger.Storage;
using Microsoft.Data.Sqlite;

namespace ConversationLedger.Sqlite;

// Reads: the window a policy asks for, pages of entries and thread listings.
public sealed partial class SqliteConversationStore
{
    /// <inheritdoc />
    public async Task<ThreadWindow> ReadWindowAsync(ThreadKey key, WindowSpec window, CancellationToken cancellationToken = default)
    {
        StoreArguments.CheckWindow(key, window);
        await using var connection = await OpenAsync(cancellationToken);
        // One read transaction: the head and the rows come from the same WAL snapshot.
        await using var transaction = connection.BeginTransaction(deferred: true);
        var head = await ReadHeadAsync(connection, transaction, key, cancellationToken);
        if (!head.Exists)
        {
            return new ThreadWindow(head, []);
        }
        // A handful of indexed lookups and ranges in one read transaction (in-process, so round trips are cheap):
        // first the window's lowest message ordinal, then each part of the window.
        // The newest reset (returned with every window) also gives the first ordinal after it; never reset: no lookup.
        var reset = head.ResetSequence > 0
            ? (await QueryAsync(connection, transaction, EntryAtSql, key, cancellationToken, ("$seq", head.ResetSequence))).SingleOrDefault()
            : null;
        long? firstInBudget = null;
        if (window.LastTokens is { } budget)
        {
            var first = await ScalarAsync(connection, transaction, TokenStartSql, key, ("$floor", head.RunningTokens - budget), cancellationToken);
            firstInBudget = first == 0 ? null : first;
        }
        var lo = WindowBounds.FirstMessage(window, head, reset?.RunningMessages ?? 0, firstInBudget);
        var picked = new SortedDictionary<long, LedgerEntry>();
        void Take(IEnumerable<LedgerEntry> entries)
        {
            foreach (var entry in entries)
            {
                picked[entry.Sequence] = entry;
            }
        }
        // One statement for the window, the pins, the newest system prompt and summary and the window's edits; one
        // more for pinned messages outside the window and their edits. Each statement costs about as much to prepare
        // and step as a short range costs to read, so fewer statements is what makes a window cheap.
        Take(await QueryAsync(connection, transaction, WindowSql, key, cancellationToken, ("$lo", lo), ("$boundary", head.ResetSequence)));
        if (reset is not null)
        {
            Take([reset]);
        }
        var outside = picked.Values.OfType<PinEntry>().Select(p => p.Target).Where(t => !picked.ContainsKey(t)).Distinct().ToArray();
        if (outside.Length > 0)
        {
            Take(await QueryAsync(connection, transaction, PinnedSql(outside.Length), key, cancellationToken,
                outside.Select((target, i) => ($"$p{i}", (object)target)).ToArray()));
        }
        var shown = picked.Values.OfType<MessageEntry>().Select(m => m.Sequence).ToHashSet();
        foreach (var stray in picked.Values.OfType<EditEntry>().Where(e => !shown.Contains(e.Target)).ToList())
        {
            picked.Remove(stray.Sequence);
        }
        return new ThreadWindow(head, picked.Values.ToArray());
    }

    // The window's queries; each is an index lookup or range (SqliteQueryPlanTests checks their plans). Without
    // statistics SQLite prefers the covering primary key and would walk the thread from the boundary, so each query
    // names its index.
    private const string ThreadFilter = "tenant = $t AND scope = $s AND thread_id = $id";
    private const string EntryAtSql = $"SELECT {Columns} FROM entries WHERE {ThreadFilter} AND sequence = $seq";
    private const string TokenStartSql = $"""
        SELECT running_messages FROM entries INDEXED BY messages_by_tokens WHERE {ThreadFilter} AND kind = 'message'
          AND running_tokens >= $floor AND running_tokens - tokens >= $floor
        ORDER BY running_tokens, running_messages LIMIT 1
        """;
    // The newest system prompt and summary are primary-key lookups of a MAX found on the kind index; the window's edits
    // are a range on target from the window's first message (none when the window is empty). The kind index is partial,
    // and SQLite uses a partial index only when the query repeats its condition, hence `kind NOT IN ('message', 'usage')`.
    private const string WindowSql = $"""
        SELECT {Columns} FROM entries INDEXED BY messages_by_ordinal WHERE {ThreadFilter} AND kind = 'message' AND running_messages >= $lo
        UNION ALL
        SELECT {Columns} FROM entries INDEXED BY events_by_kind WHERE {ThreadFilter} AND kind NOT IN ('message', 'usage') AND kind = 'pin' AND sequence > $boundary
        UNION ALL
        SELECT {Columns} FROM entries WHERE {ThreadFilter} AND sequence =
            (SELECT MAX(sequence) FROM entries INDEXED BY events_by_kind WHERE {ThreadFilter} AND kind NOT IN ('message', 'usage') AND kind = 'system_prompt')
        UNION ALL
        SELECT {Columns} FROM entries WHERE {ThreadFilter} AND sequence =
            (SELECT MAX(sequence) FROM entries INDEXED BY events_by_kind WHERE {ThreadFilter} AND kind NOT IN ('message', 'usage') AND kind = 'summary' AND sequence > $boundary)
        UNION ALL
        SELECT {Columns} FROM entries INDEXED BY entries_by_target WHERE {ThreadFilter} AND kind = 'edit' AND target >=
            (SELECT sequence FROM entries INDEXED BY messages_by_ordinal WHERE {ThreadFilter} AND kind = 'message' AND running_messages = $lo)
        """;

    // Pinned messages outside the window and their edits: primary-key lookups and target lookups, one per pin.
    private static string PinnedSql(int count)
    {
        var list = string.Join(", ", Enumerable.Range(0, count).Select(i => $"$p{i}"));
        return $"""
            SELECT {Columns} FROM entries WHERE {ThreadFilter} AND kind = 'message' AND sequence IN ({list})
            UNION ALL
            SELECT {Columns} FROM entries INDEXED BY entries_by_target WHERE {ThreadFilter} AND kind = 'edit' AND target IN ({list})
            """;
    }

    internal static IReadOnlyList<string> WindowQueries { get; } = [EntryAtSql, TokenStartSql, WindowSql, PinnedSql(2)];

    private static async Task<IReadOnlyList<LedgerEntry>> QueryAsync(SqliteConnection connection, SqliteTransaction transaction, string sql,
        ThreadKey key, CancellationToken cancellationToken, params (string Name, object Value)[] parameters)
    {
        await using var command = Command(connection, transaction, sql, key);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }
        return await ReadEntriesAsync(command, cancellationToken);
    }

    private static async Task<long> ScalarAsync(SqliteConnection connection, SqliteTransaction transaction, string sql, ThreadKey key,
        (string Name, object Value) parameter, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, sql, key);
        command.Parameters.AddWithValue(parameter.Name, parameter.Value);
        return await command.ExecuteScalarAsync(cancellationToken) is long value ? value : 0;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<LedgerEntry>> ReadEntriesAsync(ThreadKey key, long afterSequence, int limit, CancellationToken cancellationToken = default)
    {
        StoreArguments.CheckEntries(key, afterSequence, limit);
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, $"""
            SELECT {Columns} FROM entries WHERE tenant = $t AND scope = $s AND thread_id = $id AND sequence > $after
            ORDER BY sequence LIMIT $limit
            """, key);
        command.Parameters.AddWithValue("$after", afterSequence);
        command.Parameters.AddWithValue("$limit", limit);
        return await ReadEntriesAsync(command, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<ThreadPage> ListThreadsAsync(string tenant, string? scope, PageRequest page, CancellationToken cancellationToken = default)
    {
        var (after, limit) = StoreArguments.CheckList(tenant, page);
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"""
            SELECT tenant, scope, thread_id, last_sequence, running_tokens, running_messages, reset_sequence, created_at, updated_at
            FROM threads WHERE tenant = $t {(scope is null ? "" : "AND scope = $s")}
            {(after is null ? "" : "AND (updated_at < $at OR (updated_at = $at AND (scope > $cs OR (scope = $cs AND thread_id > $cid))))")}
            ORDER BY updated_at DESC, scope, thread_id LIMIT $limit
            """;
        command.Parameters.AddWithValue("$t", tenant);
        command.Parameters.AddWithValue("$s", (object?)scope ?? DBNull.Value);
        command.Parameters.AddWithValue("$limit", limit + 1);
        if (after is not null)
        {
            command.Parameters.AddWithValue("$at", after.UpdatedAt.UtcTicks);
            command.Parameters.AddWithValue("$cs", after.Scope);
            command.Parameters.AddWithValue("$cid", after.ThreadId);
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

    // Times are stored as UTC ticks.
    private static Task<IReadOnlyList<LedgerEntry>> ReadEntriesAsync(SqliteCommand command, CancellationToken cancellationToken) =>
        EntryRows.ReadAllAsync(command, reader => new DateTimeOffset(reader.GetInt64(EntryRows.RecordedAtColumn), TimeSpan.Zero), cancellationToken);
}
