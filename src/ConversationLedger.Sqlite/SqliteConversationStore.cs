using System.Globalization;
using Microsoft.Data.Sqlite;

namespace ConversationLedger.Sqlite;

/// <summary>
/// The embedded default store: one SQLite file (or any SQLite connection string). The schema is created and
/// versioned on first use. The file runs in WAL mode with <c>synchronous=FULL</c>, so an acknowledged append has
/// been fsync'd and survives a crash of the process or the machine; <c>busy_timeout</c> lets several processes
/// share one file, and appends take the write lock up front (<c>BEGIN IMMEDIATE</c>) so the expected-sequence
/// check and the insert cannot interleave with another writer. Deletes are real erasure: <c>secure_delete</c> zeroes
/// freed content and the WAL is checkpointed and truncated after a delete. Thread-safe; share one instance per file.
/// A connection string with <c>Mode=ReadOnly</c> opens the file read-only: nothing is ever written (not the schema, not
/// the journal mode), so a file or folder the process may not write can still be read; every write then fails.
/// </summary>
public sealed class SqliteConversationStore : IConversationStore
{
    /// <summary>The schema version this library writes and reads.</summary>
    public const int SchemaVersion = 1;

    private const string Columns = "sequence, kind, payload, recorded_at, turn_id, tokens, running_tokens, running_messages";

    private readonly string _connectionString;
    // Read-only only: the same file opened immutable, once a plain read-only open proved impossible (see OpenAsync).
    private volatile string? _immutableConnectionString;
    private volatile bool _permissionsChecked;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _schemaGate = new(1, 1);
    private volatile bool _schemaReady;

    /// <summary>Creates a store over a SQLite file path or a connection string (<c>Data Source=…</c>).</summary>
    /// <param name="pathOrConnectionString">A file path, or a connection string containing <c>Data Source=</c>.</param>
    /// <param name="busyTimeout">How long to wait for another writer's lock. <value>The default value is 30 seconds.</value></param>
    /// <param name="timeProvider">The clock for recorded times; the system clock when null.</param>
    public SqliteConversationStore(string pathOrConnectionString, TimeSpan? busyTimeout = null, TimeProvider? timeProvider = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(pathOrConnectionString);
        var builder = pathOrConnectionString.Contains('=', StringComparison.Ordinal)
            ? new SqliteConnectionStringBuilder(pathOrConnectionString)
            : new SqliteConnectionStringBuilder { DataSource = pathOrConnectionString };
        var timeout = busyTimeout ?? TimeSpan.FromSeconds(30);
        ArgumentOutOfRangeException.ThrowIfLessThan(timeout, TimeSpan.Zero, nameof(busyTimeout));
        builder.DefaultTimeout = Math.Max(1, (int)Math.Ceiling(timeout.TotalSeconds));
        builder.Pooling = true;
        _connectionString = builder.ToString();
        DataSource = builder.DataSource;
        ReadOnly = builder.Mode == SqliteOpenMode.ReadOnly;
        BusyTimeout = timeout;
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>How long an operation waits for another connection's lock before failing.</summary>
    public TimeSpan BusyTimeout { get; }

    /// <summary>The database file (the connection string's <c>Data Source</c>), as error messages name it.</summary>
    public string DataSource { get; }

    /// <summary>
    /// Whether the file is opened read-only (<c>Mode=ReadOnly</c>): the schema is checked but never created or upgraded,
    /// the journal mode is left as the file has it, and every write fails with SQLite's "readonly database" error.
    /// </summary>
    public bool ReadOnly { get; }

    /// <inheritdoc />
    public async Task<ThreadHead> GetHeadAsync(ThreadKey key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        await using var connection = await OpenAsync(cancellationToken);
        return await ReadHeadAsync(connection, null, key, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<AppendResult> AppendAsync(ThreadKey key, long expectedSequence, IReadOnlyList<LedgerEntry> entries, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(entries);
        ArgumentOutOfRangeException.ThrowIfNegative(expectedSequence);
        await using var connection = await OpenAsync(cancellationToken);
        // BEGIN IMMEDIATE: take the write lock before reading the head, so no other process can append in between.
        await using var transaction = connection.BeginTransaction(deferred: false);
        var head = await ReadHeadAsync(connection, transaction, key, cancellationToken);
        if (head.LastSequence != expectedSequence)
        {
            throw new ConcurrencyConflictException(key, expectedSequence, head.LastSequence);
        }
        var (stamped, next) = head.Advance(entries, _time.GetUtcNow());
        await InsertAsync(connection, transaction, key, stamped, cancellationToken);
        await WriteHeadAsync(connection, transaction, next, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return new AppendResult(stamped, next);
    }

    /// <inheritdoc />
    public async Task<ThreadWindow> ReadWindowAsync(ThreadKey key, WindowSpec window, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(window);
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
        var lo = Math.Max(LowestOrdinal(window, head), (reset?.RunningMessages ?? 0) + 1);
        if (window.LastTokens is { } budget)
        {
            var first = await ScalarAsync(connection, transaction, TokenStartSql, key, ("$floor", head.RunningTokens - budget), cancellationToken);
            lo = Math.Max(lo, first == 0 ? head.RunningMessages + 1 : first);
        }
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
        ArgumentNullException.ThrowIfNull(key);
        ArgumentOutOfRangeException.ThrowIfNegative(afterSequence);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
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
        ThreadKey.CheckPart(tenant, nameof(tenant));
        ArgumentNullException.ThrowIfNull(page);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(page.Limit, nameof(page));
        var after = ThreadCursor.Decode(page.Cursor);
        var limit = Math.Min(page.Limit, PageRequest.MaxLimit);
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
        return ThreadPage.FromOneMore(heads, limit);
    }

    /// <inheritdoc />
    public async Task<ThreadHead> ForkAsync(ThreadKey source, long atSequence, ThreadKey target, CancellationToken cancellationToken = default)
    {
        StoreArguments.CheckFork(source, target);
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = connection.BeginTransaction(deferred: false);
        var from = await ReadHeadAsync(connection, transaction, source, cancellationToken);
        if (!from.Exists)
        {
            throw new LedgerNotFoundException($"thread {source} does not exist");
        }
        if (atSequence < 1 || atSequence > from.LastSequence)
        {
            throw new LedgerNotFoundException($"thread {source} has no entry {atSequence} (it has {from.LastSequence})");
        }
        var existing = await ReadHeadAsync(connection, transaction, target, cancellationToken);
        if (existing.Exists)
        {
            throw new ConcurrencyConflictException(target, 0, existing.LastSequence);
        }
        // Copy the prefix inside the database: rows are immutable, so a copy is exact (sums included).
        await using (var copy = Command(connection, transaction, """
            INSERT INTO entries (tenant, scope, thread_id, sequence, kind, payload, target, turn_id, recorded_at, tokens, running_tokens, running_messages)
            SELECT $t2, $s2, $id2, sequence, kind, payload, target, turn_id, recorded_at, tokens, running_tokens, running_messages
            FROM entries WHERE tenant = $t AND scope = $s AND thread_id = $id AND sequence <= $at
            """, source))
        {
            copy.Parameters.AddWithValue("$t2", target.Tenant);
            copy.Parameters.AddWithValue("$s2", target.Scope);
            copy.Parameters.AddWithValue("$id2", target.ThreadId);
            copy.Parameters.AddWithValue("$at", atSequence);
            await copy.ExecuteNonQueryAsync(cancellationToken);
        }
        long runningTokens = 0, runningMessages = 0, reset = 0;
        await using (var sums = Command(connection, transaction, """
            SELECT running_tokens, running_messages,
                   COALESCE((SELECT MAX(sequence) FROM entries WHERE tenant = $t AND scope = $s AND thread_id = $id AND kind = 'reset'), 0)
            FROM entries WHERE tenant = $t AND scope = $s AND thread_id = $id AND sequence = $at
            """, target))
        {
            sums.Parameters.AddWithValue("$at", atSequence);
            await using var reader = await sums.ExecuteReaderAsync(cancellationToken);
            if (await reader.ReadAsync(cancellationToken))
            {
                runningTokens = reader.GetInt64(0);
                runningMessages = reader.GetInt64(1);
                reset = reader.GetInt64(2);
            }
        }
        var copied = ThreadHead.Empty(target) with
        {
            LastSequence = atSequence, RunningTokens = runningTokens, RunningMessages = runningMessages, ResetSequence = reset,
        };
        var (stamped, head) = copied.Advance([new ForkEntry(source, atSequence)], _time.GetUtcNow());
        head = head with { CreatedAt = head.UpdatedAt };
        await InsertAsync(connection, transaction, target, stamped, cancellationToken);
        await WriteHeadAsync(connection, transaction, head, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return head;
    }

    /// <inheritdoc />
    public async Task<bool> DeleteThreadAsync(ThreadKey key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = connection.BeginTransaction(deferred: false);
        await using var command = Command(connection, transaction, """
            DELETE FROM turn_leases WHERE tenant = $t AND scope = $s AND thread_id = $id;
            DELETE FROM entries WHERE tenant = $t AND scope = $s AND thread_id = $id;
            DELETE FROM threads WHERE tenant = $t AND scope = $s AND thread_id = $id;
            """, key);
        await command.ExecuteNonQueryAsync(cancellationToken);
        var existed = await ChangesAsync(connection, transaction, cancellationToken) > 0;
        await transaction.CommitAsync(cancellationToken);
        await CheckpointAsync(connection, cancellationToken);
        return existed;
    }

    /// <inheritdoc />
    public async Task<int> DeleteTenantAsync(string tenant, CancellationToken cancellationToken = default)
    {
        ThreadKey.CheckPart(tenant, nameof(tenant));
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = connection.BeginTransaction(deferred: false);
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            DELETE FROM turn_leases WHERE tenant = $t;
            DELETE FROM entries WHERE tenant = $t;
            DELETE FROM threads WHERE tenant = $t;
            """;
        command.Parameters.AddWithValue("$t", tenant);
        await command.ExecuteNonQueryAsync(cancellationToken);
        var count = await ChangesAsync(connection, transaction, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        await CheckpointAsync(connection, cancellationToken);
        return (int)count;
    }

    /// <inheritdoc />
    /// <remarks>
    /// One row per leased thread (holder, expiry in Unix milliseconds by this store's clock), taken or renewed by one upsert
    /// that only overwrites an expired row or the holder's own; a statement is a transaction holding the file's write lock,
    /// so processes sharing the file see one holder.
    /// </remarks>
    public async Task<bool> TryAcquireTurnLeaseAsync(ThreadKey key, string holder, TimeSpan duration, CancellationToken cancellationToken = default)
    {
        StoreArguments.CheckLease(key, holder, duration);
        var now = _time.GetUtcNow();
        await using var connection = await OpenAsync(cancellationToken);
        // Look before writing: a refused turn (the common case under contention) then never queues for the write lock
        // that the lease holder's commit needs. The upsert below decides; this read only spares it.
        await using (var look = Command(connection, null, """
            SELECT 1 FROM turn_leases WHERE tenant = $t AND scope = $s AND thread_id = $id AND holder <> $holder AND expires_at > $now
            """, key))
        {
            look.Parameters.AddWithValue("$holder", holder);
            look.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds());
            if (await look.ExecuteScalarAsync(cancellationToken) is not null)
            {
                return false;
            }
        }
        await using var command = Command(connection, null, """
            INSERT INTO turn_leases (tenant, scope, thread_id, holder, expires_at) VALUES ($t, $s, $id, $holder, $expires)
            ON CONFLICT (tenant, scope, thread_id) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
            WHERE turn_leases.expires_at <= $now OR turn_leases.holder = excluded.holder;
            SELECT changes();
            """, key);
        command.Parameters.AddWithValue("$holder", holder);
        command.Parameters.AddWithValue("$expires", (now + duration).ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds());
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture) == 1;
    }

    /// <inheritdoc />
    public async Task<bool> ReleaseTurnLeaseAsync(ThreadKey key, string holder, CancellationToken cancellationToken = default)
    {
        StoreArguments.CheckLease(key, holder);
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, """
            DELETE FROM turn_leases WHERE tenant = $t AND scope = $s AND thread_id = $id AND holder = $holder;
            SELECT changes();
            """, key);
        command.Parameters.AddWithValue("$holder", holder);
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture) == 1;
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

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        if (_immutableConnectionString is { } immutable)
        {
            return await OpenAsync(immutable, cancellationToken);
        }
        // A file nobody may write (chmod 444): a plain read-only open would create its -shm index beside it, read-only as
        // the file is, and that leftover stops the owner's next write once the file is writable again. Nobody writes
        // it, so with no commits waiting in a -wal file it is read as immutable (no locks, no -shm) from the start.
        if (ReadOnly && !_permissionsChecked)
        {
            _permissionsChecked = true;
            if (ImmutableForm() is { } readOnlyFile && HasNoWritePermission(readOnlyFile.Path))
            {
                _immutableConnectionString = readOnlyFile.ConnectionString;
                return await OpenAsync(readOnlyFile.ConnectionString, cancellationToken);
            }
        }
        try
        {
            return await OpenAsync(_connectionString, cancellationToken);
        }
        catch (SqliteException ex) when (ReadOnly && ex.SqliteErrorCode is 8 or 14 && File.Exists(DataSource))
        {
            // SQLITE_READONLY or SQLITE_CANTOPEN: a WAL file is read through its -shm index, which a reader that may not
            // write the folder cannot create. With no -wal file beside it (or an empty one) every commit is in the file
            // itself, so reading it as immutable reads exactly what is there.
            var fallback = ImmutableForm()
                ?? throw new LedgerException($"the database {DataSource} has commits in {DataSource}-wal that SQLite can only read with write access to the folder (to create {DataSource}-shm); open it once as a user who may write there", ex);
            _immutableConnectionString = fallback.ConnectionString;
            return await OpenAsync(fallback.ConnectionString, cancellationToken);
        }
    }

    // The file opened immutable, or null when it cannot be read that way: it is not a plain path, does not exist, or its
    // -wal file holds commits that are not in the file yet.
    private (string Path, string ConnectionString)? ImmutableForm()
    {
        if (DataSource.StartsWith("file:", StringComparison.OrdinalIgnoreCase) || DataSource is "" or ":memory:")
        {
            return null;
        }
        var path = Path.GetFullPath(DataSource);
        var wal = new FileInfo(path + "-wal");
        if (!File.Exists(path) || (wal.Exists && wal.Length > 0))
        {
            return null;
        }
        return (path, new SqliteConnectionStringBuilder(_connectionString) { DataSource = new Uri(path).AbsoluteUri + "?immutable=1" }.ToString());
    }

    private static bool HasNoWritePermission(string path) => OperatingSystem.IsWindows()
        ? File.GetAttributes(path).HasFlag(FileAttributes.ReadOnly)
        : (File.GetUnixFileMode(path) & (UnixFileMode.UserWrite | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite)) == 0;

    private async Task<SqliteConnection> OpenAsync(string connectionString, CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            await using (var pragmas = connection.CreateCommand())
            {
                // Per-connection settings: fsync at every commit, wait (not fail) while another process writes, and
                // overwrite deleted content so erasure is real. A read-only connection commits nothing: it only waits.
                pragmas.CommandText = ReadOnly
                    ? $"PRAGMA busy_timeout = {(long)BusyTimeout.TotalMilliseconds};"
                    : $"PRAGMA busy_timeout = {(long)BusyTimeout.TotalMilliseconds}; PRAGMA synchronous = FULL; PRAGMA secure_delete = ON;";
                await pragmas.ExecuteNonQueryAsync(cancellationToken);
            }
            if (!_schemaReady)
            {
                if (ReadOnly)
                {
                    await CheckSchemaAsync(connection, cancellationToken);
                }
                else
                {
                    await EnsureSchemaAsync(connection, cancellationToken);
                }
            }
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    private async Task EnsureSchemaAsync(SqliteConnection connection, CancellationToken cancellationToken)
    {
        await _schemaGate.WaitAsync(cancellationToken);
        try
        {
            if (_schemaReady)
            {
                return;
            }
            await using (var wal = connection.CreateCommand())
            {
                // WAL is a property of the file (persisted); readers never block the writer and vice versa.
                wal.CommandText = "PRAGMA journal_mode = WAL;";
                await wal.ExecuteNonQueryAsync(cancellationToken);
            }
            await using var transaction = connection.BeginTransaction(deferred: false);
            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = """
                CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
                CREATE TABLE IF NOT EXISTS threads (
                    tenant TEXT NOT NULL, scope TEXT NOT NULL, thread_id TEXT NOT NULL,
                    last_sequence INTEGER NOT NULL, running_tokens INTEGER NOT NULL, running_messages INTEGER NOT NULL,
                    reset_sequence INTEGER NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
                    PRIMARY KEY (tenant, scope, thread_id)) WITHOUT ROWID;
                CREATE INDEX IF NOT EXISTS threads_by_activity ON threads (tenant, updated_at DESC, scope, thread_id);
                CREATE INDEX IF NOT EXISTS threads_by_scope_activity ON threads (tenant, scope, updated_at DESC, thread_id);
                CREATE TABLE IF NOT EXISTS entries (
                    tenant TEXT NOT NULL, scope TEXT NOT NULL, thread_id TEXT NOT NULL, sequence INTEGER NOT NULL,
                    kind TEXT NOT NULL, payload TEXT NOT NULL, target INTEGER, turn_id TEXT, recorded_at INTEGER NOT NULL,
                    tokens INTEGER NOT NULL, running_tokens INTEGER NOT NULL, running_messages INTEGER NOT NULL,
                    PRIMARY KEY (tenant, scope, thread_id, sequence)) WITHOUT ROWID;
                -- Events only: messages have their own indexes and usage rows are never looked up by kind, so the three rows
                -- of every turn stay out of it (fewer pages written per commit). Replaces the earlier full kind index.
                CREATE INDEX IF NOT EXISTS events_by_kind ON entries (tenant, scope, thread_id, kind, sequence) WHERE kind NOT IN ('message', 'usage');
                DROP INDEX IF EXISTS entries_by_kind;
                CREATE INDEX IF NOT EXISTS messages_by_ordinal ON entries (tenant, scope, thread_id, running_messages) WHERE kind = 'message';
                CREATE INDEX IF NOT EXISTS messages_by_tokens ON entries (tenant, scope, thread_id, running_tokens, running_messages) WHERE kind = 'message';
                CREATE INDEX IF NOT EXISTS entries_by_target ON entries (tenant, scope, thread_id, target) WHERE target IS NOT NULL;
                -- Turn leases (added within schema version 1: a library that does not know the table ignores it, and the
                -- expected sequence at commit still guards every append).
                CREATE TABLE IF NOT EXISTS turn_leases (
                    tenant TEXT NOT NULL, scope TEXT NOT NULL, thread_id TEXT NOT NULL, holder TEXT NOT NULL, expires_at INTEGER NOT NULL,
                    PRIMARY KEY (tenant, scope, thread_id)) WITHOUT ROWID;
                SELECT MAX(version) FROM schema_version;
                """;
            var found = await command.ExecuteScalarAsync(cancellationToken);
            if (found is null or DBNull)
            {
                command.CommandText = "INSERT INTO schema_version (version) VALUES ($v)";
                command.Parameters.AddWithValue("$v", SchemaVersion);
                await command.ExecuteNonQueryAsync(cancellationToken);
            }
            else
            {
                ThrowIfNewer(found);
            }
            await transaction.CommitAsync(cancellationToken);
            _schemaReady = true;
        }
        finally
        {
            _schemaGate.Release();
        }
    }

    // Read-only: a file whose schema this version cannot read is refused as in EnsureSchemaAsync, but nothing is created.
    // A file without the tables was never a ledger (or is empty); one without the indexes the queries name was written by
    // an earlier layout of schema version 1, which EnsureSchemaAsync brings up to date on the first open with write access.
    private async Task CheckSchemaAsync(SqliteConnection connection, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'index')";
        var objects = new HashSet<string>(StringComparer.Ordinal);
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                objects.Add(reader.GetString(0) + " " + reader.GetString(1));
            }
        }
        if (!new[] { "schema_version", "threads", "entries" }.All(table => objects.Contains("table " + table)))
        {
            throw new LedgerException($"the database {DataSource} holds no ledger (its tables are missing); opened read-only, they are not created");
        }
        command.CommandText = "SELECT MAX(version) FROM schema_version";
        ThrowIfNewer(await command.ExecuteScalarAsync(cancellationToken));
        if (!new[] { "events_by_kind", "messages_by_ordinal", "messages_by_tokens", "entries_by_target" }.All(index => objects.Contains("index " + index)))
        {
            throw new LedgerException($"the database {DataSource} was written by an earlier version whose indexes it still has; opened read-only, they are not brought up to date (open it once with write access)");
        }
        _schemaReady = true;
    }

    private void ThrowIfNewer(object? version)
    {
        if (version is not (null or DBNull) && Convert.ToInt64(version, CultureInfo.InvariantCulture) > SchemaVersion)
        {
            throw new LedgerException($"the database {DataSource} has schema version {version}, newer than this library's {SchemaVersion}; upgrade ConversationLedger.Sqlite");
        }
    }

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql, ThreadKey key)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.Parameters.AddWithValue("$t", key.Tenant);
        command.Parameters.AddWithValue("$s", key.Scope);
        command.Parameters.AddWithValue("$id", key.ThreadId);
        return command;
    }

    private static async Task<ThreadHead> ReadHeadAsync(SqliteConnection connection, SqliteTransaction? transaction, ThreadKey key, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, """
            SELECT last_sequence, running_tokens, running_messages, reset_sequence, created_at, updated_at
            FROM threads WHERE tenant = $t AND scope = $s AND thread_id = $id
            """, key);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadHead(reader, key, 0) : ThreadHead.Empty(key);
    }

    private static ThreadHead ReadHead(SqliteDataReader reader, ThreadKey key, int at) => new()
    {
        Key = key,
        LastSequence = reader.GetInt64(at),
        RunningTokens = reader.GetInt64(at + 1),
        RunningMessages = reader.GetInt64(at + 2),
        ResetSequence = reader.GetInt64(at + 3),
        CreatedAt = new DateTimeOffset(reader.GetInt64(at + 4), TimeSpan.Zero),
        UpdatedAt = new DateTimeOffset(reader.GetInt64(at + 5), TimeSpan.Zero),
    };

    private static async Task WriteHeadAsync(SqliteConnection connection, SqliteTransaction transaction, ThreadHead head, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, """
            INSERT INTO threads (tenant, scope, thread_id, last_sequence, running_tokens, running_messages, reset_sequence, created_at, updated_at)
            VALUES ($t, $s, $id, $last, $tokens, $messages, $reset, $created, $updated)
            ON CONFLICT (tenant, scope, thread_id) DO UPDATE SET
                last_sequence = excluded.last_sequence, running_tokens = excluded.running_tokens,
                running_messages = excluded.running_messages, reset_sequence = excluded.reset_sequence,
                updated_at = excluded.updated_at
            """, head.Key);
        command.Parameters.AddWithValue("$last", head.LastSequence);
        command.Parameters.AddWithValue("$tokens", head.RunningTokens);
        command.Parameters.AddWithValue("$messages", head.RunningMessages);
        command.Parameters.AddWithValue("$reset", head.ResetSequence);
        command.Parameters.AddWithValue("$created", head.CreatedAt.UtcTicks);
        command.Parameters.AddWithValue("$updated", head.UpdatedAt.UtcTicks);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task InsertAsync(SqliteConnection connection, SqliteTransaction transaction, ThreadKey key,
        IReadOnlyList<LedgerEntry> entries, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, """
            INSERT INTO entries (tenant, scope, thread_id, sequence, kind, payload, target, turn_id, recorded_at, tokens, running_tokens, running_messages)
            VALUES ($t, $s, $id, $seq, $kind, $payload, $target, $turn, $at, $tokens, $rt, $rm)
            """, key);
        var seq = command.Parameters.Add("$seq", SqliteType.Integer);
        var kind = command.Parameters.Add("$kind", SqliteType.Text);
        var payload = command.Parameters.Add("$payload", SqliteType.Text);
        var target = command.Parameters.Add("$target", SqliteType.Integer);
        var turn = command.Parameters.Add("$turn", SqliteType.Text);
        var at = command.Parameters.Add("$at", SqliteType.Integer);
        var tokens = command.Parameters.Add("$tokens", SqliteType.Integer);
        var rt = command.Parameters.Add("$rt", SqliteType.Integer);
        var rm = command.Parameters.Add("$rm", SqliteType.Integer);
        foreach (var entry in entries)
        {
            seq.Value = entry.Sequence;
            kind.Value = EntryCodec.KindName(entry.Kind);
            payload.Value = EntryCodec.EncodePayload(entry);
            target.Value = (object?)EntryCodec.TargetOf(entry) ?? DBNull.Value;
            turn.Value = (object?)entry.TurnId ?? DBNull.Value;
            at.Value = entry.RecordedAt.UtcTicks;
            tokens.Value = entry.Tokens;
            rt.Value = entry.RunningTokens;
            rm.Value = entry.RunningMessages;
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    private static async Task<IReadOnlyList<LedgerEntry>> ReadEntriesAsync(SqliteCommand command, CancellationToken cancellationToken)
    {
        var entries = new List<LedgerEntry>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            entries.Add(EntryCodec.Decode(reader.GetString(1), reader.GetString(2), reader.GetInt64(0),
                new DateTimeOffset(reader.GetInt64(3), TimeSpan.Zero), reader.IsDBNull(4) ? null : reader.GetString(4),
                reader.GetInt32(5), reader.GetInt64(6), reader.GetInt64(7)));
        }
        return entries;
    }

    // The WAL still holds the erased rows' old pages until a checkpoint copies the zeroed pages back and truncates it.
    // Best effort: a busy checkpoint (open readers) completes at a later one.
    private static async Task CheckpointAsync(SqliteConnection connection, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA wal_checkpoint(TRUNCATE)";
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<long> ChangesAsync(SqliteConnection connection, SqliteTransaction transaction, CancellationToken cancellationToken)
    {
        // changes() counts the last statement: the threads delete, i.e. the number of threads erased.
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT changes()";
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
    }
}
