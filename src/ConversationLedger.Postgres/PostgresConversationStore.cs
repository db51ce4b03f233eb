using Npgsql;
using NpgsqlTypes;

namespace ConversationLedger.Postgres;

/// <summary>
/// The scale-out store on PostgreSQL (Npgsql, pooled connections). The schema is created and versioned on first use
/// (under an advisory lock, so several processes may start at once). Appends check the expected sequence against
/// the thread's head row, locked for the transaction, so appends, forks and deletes of a thread serialize on it; a new
/// thread has no head row yet, and there the unique key (tenant, scope, thread, sequence) lets only one writer store
/// a given sequence number. The loser gets a <see cref="ConcurrencyConflictException"/>. An acknowledged append is
/// committed with the server's durability settings (keep <c>fsync</c> and <c>synchronous_commit</c> on for zero
/// acknowledged-turn loss). Thread-safe; share one instance per database.
/// </summary>
public sealed class PostgresConversationStore : IConversationStore, IAsyncDisposable
{
    /// <summary>The schema version this library writes and reads.</summary>
    public const int SchemaVersion = 1;

    private const string Columns = "sequence, kind, payload, recorded_at, turn_id, tokens, running_tokens, running_messages";
    private const string ThreadFilter = "tenant = @t AND scope = @s AND thread_id = @id";

    // Locks on the head row, which serialize every change of an existing thread. An append holds its thread's head
    // against other appends and deletes, a fork holds its source's head against deletes only (KEY SHARE does not
    // conflict with NO KEY UPDATE, so appends to the source go on), and a delete removes the head before the entries.
    private const string NoLock = "";
    private const string AppendLock = "FOR NO KEY UPDATE";
    private const string ForkSourceLock = "FOR KEY SHARE";

    // Entries without a head, deleted after the heads in a new statement: its snapshot holds every entry of an append
    // the head delete waited for, and a thread created meanwhile (no head row to wait on) is visible whole, head with
    // entries (kept), or not at all.
    private const string Headless = "NOT EXISTS (SELECT 1 FROM threads h WHERE h.tenant = entries.tenant AND h.scope = entries.scope AND h.thread_id = entries.thread_id)";

    private readonly NpgsqlDataSource _dataSource;
    private readonly bool _ownsDataSource;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _schemaGate = new(1, 1);
    private volatile bool _schemaReady;

    /// <summary>Creates a store over a data source the caller owns (and disposes).</summary>
    public PostgresConversationStore(NpgsqlDataSource dataSource, TimeProvider? timeProvider = null)
    {
        _dataSource = dataSource ?? throw new ArgumentNullException(nameof(dataSource));
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>Creates a store over a connection string; the store owns its pooled data source.</summary>
    public PostgresConversationStore(string connectionString, TimeProvider? timeProvider = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        _dataSource = NpgsqlDataSource.Create(connectionString);
        _ownsDataSource = true;
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <inheritdoc />
    public async Task<ThreadHead> GetHeadAsync(ThreadKey key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        await using var connection = await OpenAsync(cancellationToken);
        return await ReadHeadAsync(connection, null, key, NoLock, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<AppendResult> AppendAsync(ThreadKey key, long expectedSequence, IReadOnlyList<LedgerEntry> entries, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(entries);
        ArgumentOutOfRangeException.ThrowIfNegative(expectedSequence);
        await using var connection = await OpenAsync(cancellationToken);
        try
        {
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            var head = await ReadHeadAsync(connection, transaction, key, AppendLock, cancellationToken);
            if (head.LastSequence != expectedSequence)
            {
                throw new ConcurrencyConflictException(key, expectedSequence, head.LastSequence);
            }
            var (stamped, next) = head.Advance(entries, Now());
            // A concurrent writer that read the same head inserts the same sequence numbers: the unique key lets one win.
            await InsertAsync(connection, transaction, key, stamped, cancellationToken);
            await WriteHeadAsync(connection, transaction, next, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            await RefreshStatisticsAfterBulkAsync(connection, stamped.Count, cancellationToken);
            return new AppendResult(stamped, next);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            var actual = await ReadHeadAsync(connection, null, key, NoLock, CancellationToken.None);
            throw new ConcurrencyConflictException(key, expectedSequence, actual.LastSequence);
        }
    }

    /// <summary>Appends of at least this many entries (imports, forks) refresh the planner's statistics.</summary>
    public const int BulkAppendEntries = 1000;

    // Measured: right after a 100,000-entry import, before autovacuum's ANALYZE ran, the planner misjudged the window
    // ranges and a turn took ~180 ms instead of ~4 ms. A bulk write refreshes the statistics itself (best effort:
    // the data is committed either way).
    private static async Task RefreshStatisticsAfterBulkAsync(NpgsqlConnection connection, int written, CancellationToken cancellationToken)
    {
        if (written < BulkAppendEntries)
        {
            return;
        }
        try
        {
            await using var analyze = new NpgsqlCommand("ANALYZE entries", connection);
            await analyze.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (PostgresException)
        {
        }
    }

    /// <inheritdoc />
    public async Task<ThreadWindow> ReadWindowAsync(ThreadKey key, WindowSpec window, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(window);
        await using var connection = await OpenAsync(cancellationToken);
        // Repeatable read: the head and the rows come from one snapshot.
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);
        // The head and the window's first message ordinal in one round trip, so the window query gets a constant lower
        // bound and the planner sees a short index range (a bound computed inside the query looks like a third of the table).
        await using var bounds = Command(connection, transaction, BoundsSql, key);
        bounds.Parameters.Add(new NpgsqlParameter<long?>("budget", NpgsqlDbType.Bigint) { TypedValue = window.LastTokens });
        ThreadHead head;
        long lo;
        await using (var reader = await bounds.ExecuteReaderAsync(cancellationToken))
        {
            if (!await reader.ReadAsync(cancellationToken))
            {
                return new ThreadWindow(ThreadHead.Empty(key), []);
            }
            head = ReadHead(reader, key, 0);
            lo = Math.Max(LowestOrdinal(window, head), Math.Max(reader.GetInt64(6) + 1, reader.GetInt64(7)));
        }
        // Simple queries with constant bounds, batched (two round trips): their plans stay index lookups and short
        // ranges even before statistics catch up with a fast-growing thread, which one big join did not.
        var picked = new SortedDictionary<long, LedgerEntry>();
        await using (var first = new NpgsqlBatch(connection, transaction))
        {
            first.BatchCommands.Add(BatchCommand(MessagesSql, key, ("lo", lo)));
            first.BatchCommands.Add(BatchCommand(PinsSql, key, ("boundary", head.ResetSequence)));
            first.BatchCommands.Add(BatchCommand(NewestOfKindSql, key, ("kind", "system_prompt"), ("boundary", 0L)));
            first.BatchCommands.Add(BatchCommand(NewestOfKindSql, key, ("kind", "summary"), ("boundary", head.ResetSequence)));
            first.BatchCommands.Add(BatchCommand(NewestOfKindSql, key, ("kind", "reset"), ("boundary", 0L)));
            await ReadBatchAsync(first, picked, cancellationToken);
        }
        var windowMessages = picked.Values.OfType<MessageEntry>().Select(m => m.Sequence).ToArray();
        var targets = picked.Values.OfType<PinEntry>().Select(p => p.Target).Distinct().ToArray();
        await using (var second = new NpgsqlBatch(connection, transaction))
        {
            second.BatchCommands.Add(BatchCommand(MessagesAtSql, key, ("seqs", targets)));
            second.BatchCommands.Add(BatchCommand(EditsOfSql, key, ("targets", windowMessages.Concat(targets).Distinct().ToArray())));
            var later = new SortedDictionary<long, LedgerEntry>();
            await ReadBatchAsync(second, later, cancellationToken);
            foreach (var (sequence, entry) in later.Where(e => e.Value is MessageEntry))
            {
                picked[sequence] = entry;
            }
            var shown = picked.Values.OfType<MessageEntry>().Select(m => m.Sequence).ToHashSet();
            foreach (var edit in later.Values.OfType<EditEntry>().Where(e => shown.Contains(e.Target)))
            {
                picked[edit.Sequence] = edit;
            }
        }
        await transaction.CommitAsync(cancellationToken);
        return new ThreadWindow(head, picked.Values.ToArray());
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

    // The window's parts; each an index lookup or a short index range.
    internal const string MessagesSql = $"SELECT {Columns} FROM entries WHERE {ThreadFilter} AND kind = 'message' AND running_messages >= @lo ORDER BY running_messages";
    internal const string PinsSql = $"SELECT {Columns} FROM entries WHERE {ThreadFilter} AND kind = 'pin' AND sequence > @boundary ORDER BY kind, sequence";
    internal const string NewestOfKindSql = $"SELECT {Columns} FROM entries WHERE {ThreadFilter} AND kind = @kind AND sequence > @boundary ORDER BY kind DESC, sequence DESC LIMIT 1";
    internal const string MessagesAtSql = $"SELECT {Columns} FROM entries WHERE {ThreadFilter} AND sequence = ANY(@seqs) AND kind = 'message'";
    internal const string EditsOfSql = $"SELECT {Columns} FROM entries WHERE {ThreadFilter} AND target = ANY(@targets) AND kind = 'edit'";

    internal static IReadOnlyList<string> WindowQueries { get; } = [MessagesSql, PinsSql, NewestOfKindSql, MessagesAtSql, EditsOfSql];

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

    private static async Task ReadBatchAsync(NpgsqlBatch batch, SortedDictionary<long, LedgerEntry> into, CancellationToken cancellationToken)
    {
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        do
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var entry = EntryCodec.Decode(reader.GetString(1), reader.GetString(2), reader.GetInt64(0),
                    reader.GetFieldValue<DateTimeOffset>(3), reader.IsDBNull(4) ? null : reader.GetString(4),
                    reader.GetInt32(5), reader.GetInt64(6), reader.GetInt64(7));
                into[entry.Sequence] = entry;
            }
        }
        while (await reader.NextResultAsync(cancellationToken));
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<LedgerEntry>> ReadEntriesAsync(ThreadKey key, long afterSequence, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentOutOfRangeException.ThrowIfNegative(afterSequence);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
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
        ThreadKey.CheckPart(tenant, nameof(tenant));
        ArgumentNullException.ThrowIfNull(page);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(page.Limit, nameof(page));
        var after = ThreadCursor.Decode(page.Cursor);
        var limit = Math.Min(page.Limit, PageRequest.MaxLimit);
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
        return ThreadPage.FromOneMore(heads, limit);
    }

    /// <inheritdoc />
    public async Task<ThreadHead> ForkAsync(ThreadKey source, long atSequence, ThreadKey target, CancellationToken cancellationToken = default)
    {
        StoreArguments.CheckFork(source, target);
        await using var connection = await OpenAsync(cancellationToken);
        try
        {
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            var from = await ReadHeadAsync(connection, transaction, source, ForkSourceLock, cancellationToken);
            if (!from.Exists)
            {
                throw new LedgerNotFoundException($"thread {source} does not exist");
            }
            if (atSequence < 1 || atSequence > from.LastSequence)
            {
                throw new LedgerNotFoundException($"thread {source} has no entry {atSequence} (it has {from.LastSequence})");
            }
            var existing = await ReadHeadAsync(connection, transaction, target, NoLock, cancellationToken);
            if (existing.Exists)
            {
                throw new ConcurrencyConflictException(target, 0, existing.LastSequence);
            }
            // Copy the prefix inside the database: rows are immutable, so a copy is exact (sums included).
            await using (var copy = Command(connection, transaction, $"""
                INSERT INTO entries (tenant, scope, thread_id, sequence, kind, payload, target, turn_id, recorded_at, tokens, running_tokens, running_messages)
                SELECT @t2, @s2, @id2, sequence, kind, payload, target, turn_id, recorded_at, tokens, running_tokens, running_messages
                FROM entries WHERE {ThreadFilter} AND sequence <= @at
                """, source))
            {
                copy.Parameters.AddWithValue("t2", target.Tenant);
                copy.Parameters.AddWithValue("s2", target.Scope);
                copy.Parameters.AddWithValue("id2", target.ThreadId);
                copy.Parameters.AddWithValue("at", atSequence);
                await copy.ExecuteNonQueryAsync(cancellationToken);
            }
            var copied = ThreadHead.Empty(target) with { LastSequence = atSequence };
            await using (var sums = Command(connection, transaction, $"""
                SELECT running_tokens, running_messages,
                       COALESCE((SELECT MAX(sequence) FROM entries WHERE {ThreadFilter} AND kind = 'reset'), 0)
                FROM entries WHERE {ThreadFilter} AND sequence = @at
                """, target))
            {
                sums.Parameters.AddWithValue("at", atSequence);
                await using var reader = await sums.ExecuteReaderAsync(cancellationToken);
                if (await reader.ReadAsync(cancellationToken))
                {
                    copied = copied with { RunningTokens = reader.GetInt64(0), RunningMessages = reader.GetInt64(1), ResetSequence = reader.GetInt64(2) };
                }
            }
            var (stamped, head) = copied.Advance([new ForkEntry(source, atSequence)], Now());
            head = head with { CreatedAt = head.UpdatedAt };
            await InsertAsync(connection, transaction, target, stamped, cancellationToken);
            await WriteHeadAsync(connection, transaction, head, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            await RefreshStatisticsAfterBulkAsync(connection, (int)Math.Min(atSequence, int.MaxValue), cancellationToken);
            return head;
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            var actual = await ReadHeadAsync(connection, null, target, NoLock, CancellationToken.None);
            throw new ConcurrencyConflictException(target, 0, actual.LastSequence);
        }
    }

    /// <inheritdoc />
    public async Task<bool> DeleteThreadAsync(ThreadKey key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // The head first: it waits for an append or fork holding it (see AppendLock), so the entries delete sees theirs.
        await using (var lease = Command(connection, transaction, $"DELETE FROM turn_leases WHERE {ThreadFilter}", key))
        {
            await lease.ExecuteNonQueryAsync(cancellationToken);
        }
        await using var threads = Command(connection, transaction, $"DELETE FROM threads WHERE {ThreadFilter}", key);
        var count = await threads.ExecuteNonQueryAsync(cancellationToken);
        await using (var entries = Command(connection, transaction, $"DELETE FROM entries WHERE {ThreadFilter} AND {Headless}", key))
        {
            await entries.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        return count > 0;
    }

    /// <inheritdoc />
    public async Task<int> DeleteTenantAsync(string tenant, CancellationToken cancellationToken = default)
    {
        ThreadKey.CheckPart(tenant, nameof(tenant));
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // Heads first, as in DeleteThreadAsync.
        await using (var leases = new NpgsqlCommand("DELETE FROM turn_leases WHERE tenant = @t", connection, transaction))
        {
            leases.Parameters.AddWithValue("t", tenant);
            await leases.ExecuteNonQueryAsync(cancellationToken);
        }
        await using var threads = new NpgsqlCommand("DELETE FROM threads WHERE tenant = @t", connection, transaction);
        threads.Parameters.AddWithValue("t", tenant);
        var count = await threads.ExecuteNonQueryAsync(cancellationToken);
        await using (var entries = new NpgsqlCommand($"DELETE FROM entries WHERE tenant = @t AND {Headless}", connection, transaction))
        {
            entries.Parameters.AddWithValue("t", tenant);
            await entries.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        return count;
    }

    /// <inheritdoc />
    /// <remarks>
    /// One row per leased thread, taken or renewed by one upsert that only overwrites an expired row or the holder's own.
    /// Expiry is by the server's clock (<c>clock_timestamp()</c>), so the service instances' clocks need not agree.
    /// </remarks>
    public async Task<bool> TryAcquireTurnLeaseAsync(ThreadKey key, string holder, TimeSpan duration, CancellationToken cancellationToken = default)
    {
        StoreArguments.CheckLease(key, holder, duration);
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, """
            INSERT INTO turn_leases (tenant, scope, thread_id, holder, expires_at) VALUES (@t, @s, @id, @holder, clock_timestamp() + @duration)
            ON CONFLICT (tenant, scope, thread_id) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
            WHERE turn_leases.expires_at <= clock_timestamp() OR turn_leases.holder = EXCLUDED.holder
            """, key);
        command.Parameters.AddWithValue("holder", holder);
        command.Parameters.AddWithValue("duration", duration);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <inheritdoc />
    public async Task<bool> ReleaseTurnLeaseAsync(ThreadKey key, string holder, CancellationToken cancellationToken = default)
    {
        StoreArguments.CheckLease(key, holder);
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, $"DELETE FROM turn_leases WHERE {ThreadFilter} AND holder = @holder", key);
        command.Parameters.AddWithValue("holder", holder);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <summary>Disposes the data source when the store created it.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_ownsDataSource)
        {
            await _dataSource.DisposeAsync();
        }
        _schemaGate.Dispose();
    }

    // timestamptz keeps microseconds: truncate first so what we return equals what a later read returns.
    private DateTimeOffset Now()
    {
        var now = _time.GetUtcNow();
        return new DateTimeOffset(now.UtcTicks - now.UtcTicks % 10, TimeSpan.Zero);
    }

    private static long LowestOrdinal(WindowSpec window, ThreadHead head)
    {
        long lo = 1;
        if (window.FromMessage is { } from)
        {
            lo = Math.Max(lo, from);
        }
        if (window.LastMessages is { } last)
        {
            lo = Math.Max(lo, head.RunningMessages - last + 1);
        }
        return lo;
    }

    private async Task<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        try
        {
            if (!_schemaReady)
            {
                await EnsureSchemaAsync(connection, cancellationToken);
            }
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    private async Task EnsureSchemaAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await _schemaGate.WaitAsync(cancellationToken);
        try
        {
            if (_schemaReady)
            {
                return;
            }
            // Fast path: DDL takes table locks even when nothing needs creating, and those locks deadlock with
            // concurrent appends, so only a database without the current version runs it.
            if (await VersionAsync(connection, null, cancellationToken) is { } current && current >= SchemaVersion)
            {
                CheckVersion(current);
                await EnsureLeaseTableAsync(connection, cancellationToken);
                _schemaReady = true;
                return;
            }
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            // Concurrent CREATE ... IF NOT EXISTS can still collide in the catalog: serialize schema work across
            // processes, and look again once we hold the lock (another process may have just created it).
            await using (var gate = new NpgsqlCommand("SELECT pg_advisory_xact_lock(7243001)", connection, transaction))
            {
                await gate.ExecuteNonQueryAsync(cancellationToken);
            }
            if (await VersionAsync(connection, transaction, cancellationToken) is { } created && created >= SchemaVersion)
            {
                CheckVersion(created);
                await transaction.CommitAsync(cancellationToken);
                await EnsureLeaseTableAsync(connection, cancellationToken);
                _schemaReady = true;
                return;
            }
            await using var command = new NpgsqlCommand("""
                CREATE TABLE IF NOT EXISTS ledger_schema_version (version integer NOT NULL);
                CREATE TABLE IF NOT EXISTS threads (
                    tenant text NOT NULL, scope text NOT NULL, thread_id text NOT NULL,
                    last_sequence bigint NOT NULL, running_tokens bigint NOT NULL, running_messages bigint NOT NULL,
                    reset_sequence bigint NOT NULL, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL,
                    PRIMARY KEY (tenant, scope, thread_id));
                CREATE INDEX IF NOT EXISTS threads_by_activity ON threads (tenant, updated_at DESC, scope COLLATE "C", thread_id COLLATE "C");
                CREATE INDEX IF NOT EXISTS threads_by_scope_activity ON threads (tenant, scope, updated_at DESC, thread_id COLLATE "C");
                CREATE TABLE IF NOT EXISTS entries (
                    tenant text NOT NULL, scope text NOT NULL, thread_id text NOT NULL, sequence bigint NOT NULL,
                    kind text NOT NULL, payload text NOT NULL, target bigint, turn_id text, recorded_at timestamptz NOT NULL,
                    tokens integer NOT NULL, running_tokens bigint NOT NULL, running_messages bigint NOT NULL,
                    CONSTRAINT entries_sequence_unique PRIMARY KEY (tenant, scope, thread_id, sequence));
                CREATE INDEX IF NOT EXISTS entries_by_kind ON entries (tenant, scope, thread_id, kind, sequence);
                CREATE INDEX IF NOT EXISTS messages_by_ordinal ON entries (tenant, scope, thread_id, running_messages) WHERE kind = 'message';
                CREATE INDEX IF NOT EXISTS messages_by_tokens ON entries (tenant, scope, thread_id, running_tokens, running_messages) WHERE kind = 'message';
                CREATE INDEX IF NOT EXISTS entries_by_target ON entries (tenant, scope, thread_id, target) WHERE target IS NOT NULL;
                -- Re-analyze after every 1,000 new rows plus 1 %, not the default 10 %: a young, fast-growing table
                -- otherwise keeps statistics that make the planner walk a whole thread (see docs/benchmarks.md).
                ALTER TABLE entries SET (autovacuum_analyze_scale_factor = 0.01, autovacuum_analyze_threshold = 1000);
                SELECT MAX(version) FROM ledger_schema_version;
                """, connection, transaction);
            var found = await command.ExecuteScalarAsync(cancellationToken);
            if (found is null or DBNull)
            {
                await using var insert = new NpgsqlCommand("INSERT INTO ledger_schema_version (version) VALUES (@v)", connection, transaction);
                insert.Parameters.AddWithValue("v", SchemaVersion);
                await insert.ExecuteNonQueryAsync(cancellationToken);
            }
            else
            {
                CheckVersion((int)found);
            }
            await transaction.CommitAsync(cancellationToken);
            await EnsureLeaseTableAsync(connection, cancellationToken);
            _schemaReady = true;
        }
        finally
        {
            _schemaGate.Release();
        }
    }

    // The lease table came after schema version 1 and is kept within it (a library that does not know it ignores it, and
    // the expected sequence still guards every append), so it is created apart, by whoever finds it missing. Creating only
    // this table locks nothing an append uses.
    private static async Task EnsureLeaseTableAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using (var exists = new NpgsqlCommand("SELECT to_regclass('turn_leases') IS NOT NULL", connection))
        {
            if (await exists.ExecuteScalarAsync(cancellationToken) is true)
            {
                return;
            }
        }
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var command = new NpgsqlCommand("""
            SELECT pg_advisory_xact_lock(7243001);
            CREATE TABLE IF NOT EXISTS turn_leases (
                tenant text NOT NULL, scope text NOT NULL, thread_id text NOT NULL, holder text NOT NULL, expires_at timestamptz NOT NULL,
                PRIMARY KEY (tenant, scope, thread_id));
            """, connection, transaction);
        await command.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    private static async Task<int?> VersionAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, CancellationToken cancellationToken)
    {
        await using var probe = new NpgsqlCommand("SELECT to_regclass('ledger_schema_version') IS NOT NULL", connection, transaction);
        if (await probe.ExecuteScalarAsync(cancellationToken) is not true)
        {
            return null;
        }
        probe.CommandText = "SELECT MAX(version) FROM ledger_schema_version";
        return await probe.ExecuteScalarAsync(cancellationToken) as int?;
    }

    private static void CheckVersion(int version)
    {
        if (version > SchemaVersion)
        {
            throw new LedgerException($"the database has schema version {version}, newer than this library's {SchemaVersion}; upgrade ConversationLedger.Postgres");
        }
    }

    private static NpgsqlCommand Command(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, ThreadKey key)
    {
        var command = new NpgsqlCommand(sql, connection, transaction);
        command.Parameters.AddWithValue("t", key.Tenant);
        command.Parameters.AddWithValue("s", key.Scope);
        command.Parameters.AddWithValue("id", key.ThreadId);
        return command;
    }

    private static async Task<ThreadHead> ReadHeadAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, ThreadKey key,
        string rowLock, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, $"""
            SELECT last_sequence, running_tokens, running_messages, reset_sequence, created_at, updated_at
            FROM threads WHERE {ThreadFilter} {rowLock}
            """, key);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadHead(reader, key, 0) : ThreadHead.Empty(key);
    }

    private static ThreadHead ReadHead(NpgsqlDataReader reader, ThreadKey key, int at) => new()
    {
        Key = key,
        LastSequence = reader.GetInt64(at),
        RunningTokens = reader.GetInt64(at + 1),
        RunningMessages = reader.GetInt64(at + 2),
        ResetSequence = reader.GetInt64(at + 3),
        CreatedAt = reader.GetFieldValue<DateTimeOffset>(at + 4),
        UpdatedAt = reader.GetFieldValue<DateTimeOffset>(at + 5),
    };

    private static async Task WriteHeadAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, ThreadHead head, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, """
            INSERT INTO threads (tenant, scope, thread_id, last_sequence, running_tokens, running_messages, reset_sequence, created_at, updated_at)
            VALUES (@t, @s, @id, @last, @tokens, @messages, @reset, @created, @updated)
            ON CONFLICT (tenant, scope, thread_id) DO UPDATE SET
                last_sequence = excluded.last_sequence, running_tokens = excluded.running_tokens,
                running_messages = excluded.running_messages, reset_sequence = excluded.reset_sequence,
                updated_at = excluded.updated_at
            """, head.Key);
        command.Parameters.AddWithValue("last", head.LastSequence);
        command.Parameters.AddWithValue("tokens", head.RunningTokens);
        command.Parameters.AddWithValue("messages", head.RunningMessages);
        command.Parameters.AddWithValue("reset", head.ResetSequence);
        command.Parameters.AddWithValue("created", head.CreatedAt.ToUniversalTime());
        command.Parameters.AddWithValue("updated", head.UpdatedAt.ToUniversalTime());
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task InsertAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, ThreadKey key,
        IReadOnlyList<LedgerEntry> entries, CancellationToken cancellationToken)
    {
        // One round trip for the whole batch: arrays unnested into rows.
        await using var command = Command(connection, transaction, """
            INSERT INTO entries (tenant, scope, thread_id, sequence, kind, payload, target, turn_id, recorded_at, tokens, running_tokens, running_messages)
            SELECT @t, @s, @id, * FROM unnest(@seq, @kind, @payload, @target, @turn, @at, @tokens, @rt, @rm)
            """, key);
        command.Parameters.AddWithValue("seq", entries.Select(e => e.Sequence).ToArray());
        command.Parameters.AddWithValue("kind", entries.Select(e => EntryCodec.KindName(e.Kind)).ToArray());
        command.Parameters.AddWithValue("payload", entries.Select(EntryCodec.EncodePayload).ToArray());
        command.Parameters.Add(new NpgsqlParameter<long?[]>("target", NpgsqlDbType.Array | NpgsqlDbType.Bigint)
        {
            TypedValue = entries.Select(EntryCodec.TargetOf).ToArray(),
        });
        command.Parameters.Add(new NpgsqlParameter<string?[]>("turn", NpgsqlDbType.Array | NpgsqlDbType.Text)
        {
            TypedValue = entries.Select(e => e.TurnId).ToArray(),
        });
        command.Parameters.AddWithValue("at", entries.Select(e => e.RecordedAt.ToUniversalTime()).ToArray());
        command.Parameters.AddWithValue("tokens", entries.Select(e => e.Tokens).ToArray());
        command.Parameters.AddWithValue("rt", entries.Select(e => e.RunningTokens).ToArray());
        command.Parameters.AddWithValue("rm", entries.Select(e => e.RunningMessages).ToArray());
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<IReadOnlyList<LedgerEntry>> ReadEntriesAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var entries = new List<LedgerEntry>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            entries.Add(EntryCodec.Decode(reader.GetString(1), reader.GetString(2), reader.GetInt64(0),
                reader.GetFieldValue<DateTimeOffset>(3), reader.IsDBNull(4) ? null : reader.GetString(4),
                reader.GetInt32(5), reader.GetInt64(6), reader.GetInt64(7)));
        }
        return entries;
    }
}
