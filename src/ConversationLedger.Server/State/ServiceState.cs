using System.Data.Common;
using Microsoft.Data.Sqlite;
using ConversationLedger.Postgres;
using Npgsql;

namespace ConversationLedger.Server.State;

/// <summary>
/// What the service keeps beside the ledger, shared by every instance: API keys (hashed), the threads it serves (their
/// settings, metadata and activity), and turn records (idempotency keys, re-attachable streams, cancel requests). Plain SQL
/// that PostgreSQL and SQLite both speak, so one class serves both; the ledger itself stays in its own store.
/// </summary>
public sealed partial class ServiceState : IAsyncDisposable
{
    private readonly Func<CancellationToken, Task<DbConnection>> _open;
    private readonly IAsyncDisposable? _owned;
    private readonly SemaphoreSlim _schemaGate = new(1, 1);
    private readonly TimeProvider _time;
    private volatile bool _schemaReady;

    private ServiceState(Func<CancellationToken, Task<DbConnection>> open, bool isSqlite, IAsyncDisposable? owned, TimeProvider? time)
    {
        _open = open;
        IsSqlite = isSqlite;
        _owned = owned;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Whether the tables live in SQLite (one machine) rather than PostgreSQL.</summary>
    public bool IsSqlite { get; }

    /// <summary>The service's tables in a SQLite file (created when missing).</summary>
    public static ServiceState Sqlite(string path, TimeProvider? time = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
        return new ServiceState(async ct =>
        {
            var connection = new SqliteConnection(connectionString);
            await connection.OpenAsync(ct);
            return connection;
        }, isSqlite: true, owned: null, time);
    }

    /// <summary>
    /// The service's tables in PostgreSQL, over a pool of their own with the ledger store's defaults
    /// (<see cref="PostgresConversationStore.CreateDataSourceBuilder"/>).
    /// </summary>
    public static ServiceState Postgres(string connectionString, TimeProvider? time = null)
    {
        var source = PostgresConversationStore.CreateDataSourceBuilder(connectionString).Build();
        return new ServiceState(async ct => await source.OpenConnectionAsync(ct), isSqlite: false, owned: source, time);
    }

    /// <summary>
    /// The service's tables in PostgreSQL, over the caller's data source (not disposed with the state): the ledger store's,
    /// when both live in one database, so an instance has one pool rather than two of the same size.
    /// </summary>
    public static ServiceState Postgres(NpgsqlDataSource dataSource, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        return new ServiceState(async ct => await dataSource.OpenConnectionAsync(ct), isSqlite: false, owned: null, time);
    }

    /// <summary>Creates the tables when missing (also done on first use).</summary>
    public async Task EnsureSchemaAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
    }

    /// <summary>Whether the tables can be reached (for readiness).</summary>
    public async Task<bool> PingAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await OpenAsync(cancellationToken);
            await using var command = Command(connection, "SELECT 1");
            await command.ExecuteScalarAsync(cancellationToken);
            return true;
        }
        catch (Exception ex) when (ex is DbException or InvalidOperationException or TimeoutException)
        {
            return false;
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _schemaGate.Dispose();
        return _owned?.DisposeAsync() ?? ValueTask.CompletedTask;
    }

    private long Now => _time.GetUtcNow().ToUnixTimeMilliseconds();

    private async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = await _open(cancellationToken);
        if (!_schemaReady)
        {
            await _schemaGate.WaitAsync(cancellationToken);
            try
            {
                if (!_schemaReady)
                {
                    foreach (var statement in Schema)
                    {
                        await using var command = Command(connection, statement);
                        await command.ExecuteNonQueryAsync(cancellationToken);
                    }
                    _schemaReady = true;
                }
            }
            finally
            {
                _schemaGate.Release();
            }
        }
        return connection;
    }

    private string[] Schema =>
    [
        .. IsSqlite ? (string[])["PRAGMA journal_mode=WAL"] : [],
        """
        CREATE TABLE IF NOT EXISTS ledger_api_keys (
            id TEXT PRIMARY KEY, tenant TEXT NOT NULL, name TEXT NOT NULL, prefix TEXT NOT NULL, hash TEXT NOT NULL UNIQUE,
            created_at BIGINT NOT NULL, revoked_at BIGINT)
        """,
        """
        CREATE TABLE IF NOT EXISTS ledger_threads (
            tenant TEXT NOT NULL, scope TEXT NOT NULL, thread_id TEXT NOT NULL, model TEXT, policy TEXT,
            metadata TEXT NOT NULL, retention_days INTEGER, created_at BIGINT NOT NULL, activity_at BIGINT NOT NULL,
            messages BIGINT NOT NULL DEFAULT 0, tokens BIGINT NOT NULL DEFAULT 0, cost_nanos BIGINT NOT NULL DEFAULT 0,
            archived_at BIGINT, PRIMARY KEY (tenant, scope, thread_id))
        """,
        "CREATE INDEX IF NOT EXISTS ledger_threads_by_activity ON ledger_threads (tenant, activity_at, scope, thread_id)",
        """
        CREATE TABLE IF NOT EXISTS ledger_thread_tags (
            tenant TEXT NOT NULL, scope TEXT NOT NULL, thread_id TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,
            PRIMARY KEY (tenant, scope, thread_id, name))
        """,
        "CREATE INDEX IF NOT EXISTS ledger_thread_tags_by_value ON ledger_thread_tags (tenant, name, value)",
        """
        CREATE TABLE IF NOT EXISTS ledger_turns (
            tenant TEXT NOT NULL, turn_id TEXT NOT NULL, scope TEXT NOT NULL, thread_id TEXT NOT NULL,
            idempotency_key TEXT, request_hash TEXT NOT NULL, status TEXT NOT NULL, start_sequence BIGINT NOT NULL,
            created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, result TEXT, cancel_requested INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (tenant, turn_id))
        """,
        "CREATE UNIQUE INDEX IF NOT EXISTS ledger_turns_by_key ON ledger_turns (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL",
        "CREATE INDEX IF NOT EXISTS ledger_turns_by_age ON ledger_turns (updated_at)",
        """
        CREATE TABLE IF NOT EXISTS ledger_usage_shards (
            tenant TEXT NOT NULL, day TEXT NOT NULL, shard INTEGER NOT NULL, calls BIGINT NOT NULL, input_tokens BIGINT NOT NULL,
            cache_read_tokens BIGINT NOT NULL, cache_write_tokens BIGINT NOT NULL, output_tokens BIGINT NOT NULL, cost_nanos BIGINT NOT NULL,
            PRIMARY KEY (tenant, day, shard))
        """,
    ];

    private static DbCommand Command(DbConnection connection, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value ?? DBNull.Value;
            command.Parameters.Add(parameter);
        }
        return command;
    }

    private async Task<int> ExecuteAsync(string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, sql, parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private async Task<List<T>> QueryAsync<T>(string sql, Func<DbDataReader, T> read, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<T>();
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(read(reader));
        }
        return rows;
    }

    private static DateTimeOffset Time(long unixMilliseconds) => DateTimeOffset.FromUnixTimeMilliseconds(unixMilliseconds);

    private static DateTimeOffset? TimeOrNull(DbDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : Time(reader.GetInt64(ordinal));

    private static string? StringOrNull(DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
}
