using ConversationLedger.Storage;
using Npgsql;

namespace ConversationLedger.Postgres;

/// <summary>
/// The scale-out store on PostgreSQL (Npgsql, pooled connections). The schema is created and versioned on first use
/// (under an advisory lock, so several processes may start at once). An append moves the thread's head row on only
/// from the head it expected, in the statement that inserts its entries, so appends, forks and deletes of a thread
/// serialize on that row; a new thread's head is inserted only if none exists. The loser gets a
/// <see cref="ConcurrencyConflictException"/>. An acknowledged append is
/// committed with the server's durability settings (keep <c>fsync</c> and <c>synchronous_commit</c> on for zero
/// acknowledged-turn loss). Thread-safe; share one instance per database.
/// </summary>
public sealed partial class PostgresConversationStore : IConversationStore, IAsyncDisposable
{
    /// <summary>The schema version this library writes and reads.</summary>
    public const int SchemaVersion = 1;

    private const string Columns = EntryRows.Columns;
    private const string ThreadFilter = "tenant = @t AND scope = @s AND thread_id = @id";

    // Locks on the head row, which serialize every change of an existing thread. An append's update of the head holds it
    // against other appends and deletes (NO KEY UPDATE), a fork holds its source's head against deletes only (KEY SHARE
    // does not conflict with NO KEY UPDATE, so appends to the source go on), and a delete removes the head before the entries.
    private const string NoLock = "";
    private const string ForkSourceLock = "FOR KEY SHARE";

    // Entries without a head, deleted after the heads in a new statement: its snapshot holds every entry of an append
    // the head delete waited for, and a thread created meanwhile (no head row to wait on) is visible whole, head with
    // entries (kept), or not at all.
    private const string Headless = "NOT EXISTS (SELECT 1 FROM threads h WHERE h.tenant = entries.tenant AND h.scope = entries.scope AND h.thread_id = entries.thread_id)";

    private readonly NpgsqlDataSource _dataSource;
    private readonly bool _ownsDataSource;
    private readonly TimeProvider _time;
    private readonly SchemaGate _schema = new(SchemaVersion, "the database has", "ConversationLedger.Postgres");

    /// <summary>Creates a store over a data source the caller owns (and disposes).</summary>
    public PostgresConversationStore(NpgsqlDataSource dataSource, TimeProvider? timeProvider = null)
    {
        _dataSource = dataSource ?? throw new ArgumentNullException(nameof(dataSource));
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>
    /// Creates a store over a connection string; the store owns its pooled data source, built by
    /// <see cref="CreateDataSourceBuilder"/> (so with its defaults).
    /// </summary>
    public PostgresConversationStore(string connectionString, TimeProvider? timeProvider = null)
    {
        _dataSource = CreateDataSourceBuilder(connectionString).Build();
        _ownsDataSource = true;
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>Statements each pooled connection keeps prepared, by default (<c>Max Auto Prepare</c>).</summary>
    public const int DefaultMaxAutoPrepare = 64;

    /// <summary>
    /// A data source builder for <paramref name="connectionString"/> with the options a ledger's traffic wants, where the
    /// connection string does not set them itself: <c>Max Auto Prepare</c> <see cref="DefaultMaxAutoPrepare"/> (every turn
    /// runs the same few statements; prepared, PostgreSQL stops parsing and planning them each time) and
    /// <c>No Reset On Close=true</c> (the store leaves no session state behind, so a pooled connection need not be
    /// reset with <c>DISCARD ALL</c>, one more statement and transaction, each time it is reused).
    /// </summary>
    public static NpgsqlDataSourceBuilder CreateDataSourceBuilder(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        var given = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString }.Keys
            .Cast<string>().Select(k => k.Replace(" ", "", StringComparison.Ordinal).ToUpperInvariant()).ToHashSet(StringComparer.Ordinal);
        var builder = new NpgsqlDataSourceBuilder(connectionString);
        if (!given.Contains("MAXAUTOPREPARE"))
        {
            builder.ConnectionStringBuilder.MaxAutoPrepare = DefaultMaxAutoPrepare;
        }
        if (!given.Contains("NORESETONCLOSE"))
        {
            builder.ConnectionStringBuilder.NoResetOnClose = true;
        }
        return builder;
    }

    /// <summary>Where the store's connections come from; others may share its pool (the service's own tables do).</summary>
    public NpgsqlDataSource DataSource => _dataSource;

    /// <summary>Disposes the data source when the store created it.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_ownsDataSource)
        {
            await _dataSource.DisposeAsync();
        }
        _schema.Dispose();
    }

    /// <inheritdoc />
    public async Task<ThreadHead> GetHeadAsync(ThreadKey key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        await using var connection = await OpenAsync(cancellationToken);
        return await ReadHeadAsync(connection, null, key, NoLock, cancellationToken);
    }

    // timestamptz keeps microseconds: truncate first so what we return equals what a later read returns.
    private DateTimeOffset Now()
    {
        var now = _time.GetUtcNow();
        return new DateTimeOffset(now.UtcTicks - now.UtcTicks % 10, TimeSpan.Zero);
    }

    private async Task<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        try
        {
            if (!_schema.IsReady)
            {
                await _schema.EnsureAsync(ct => CreateSchemaAsync(connection, ct), cancellationToken);
            }
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
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

    private const string HeadSql = $"SELECT last_sequence, running_tokens, running_messages, reset_sequence, created_at, updated_at FROM threads WHERE {ThreadFilter}";

    private static async Task<ThreadHead> ReadHeadAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, ThreadKey key,
        string rowLock, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, $"{HeadSql} {rowLock}", key);
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
}
