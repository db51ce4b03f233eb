using ConversationLedger.Storage;
using Microsoft.Data.Sqlite;

namespace ConversationLedger.Sqlite;

/// <summary>
/// The embedded default store: one SQLite file (or any SQLite connection string). The schema is created and
/// versioned on first use. The file runs in WAL mode with <c>synchronous=FULL</c>, so an acknowledged append has
/// been fsync'd and survives a crash of the process or the machine (turn leases skip the fsync: only running processes
/// hold them); <c>busy_timeout</c> lets several processes
/// share one file, and appends take the write lock up front (<c>BEGIN IMMEDIATE</c>) so the expected-sequence
/// check and the insert cannot interleave with another writer. Deletes are real erasure: <c>secure_delete</c> zeroes
/// freed content and the WAL is checkpointed and truncated after a delete. Thread-safe; share one instance per file.
/// A connection string with <c>Mode=ReadOnly</c> opens the file read-only: nothing is ever written (not the schema, not
/// the journal mode), so a file or folder the process may not write can still be read; every write then fails.
/// </summary>
public sealed partial class SqliteConversationStore : IConversationStore
{
    /// <summary>The schema version this library writes and reads.</summary>
    public const int SchemaVersion = 1;

    private const string Columns = EntryRows.Columns;

    private readonly string _connectionString;
    // Read-only only: the same file opened immutable, once a plain read-only open proved impossible (see OpenAsync).
    private volatile string? _immutableConnectionString;
    private volatile bool _permissionsChecked;
    private readonly TimeProvider _time;
    private readonly SchemaGate _schema;

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
        _schema = new SchemaGate(SchemaVersion, $"the database {DataSource} has", "ConversationLedger.Sqlite");
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
}
