using System.Globalization;
using Microsoft.Data.Sqlite;

namespace ConversationLedger.Sqlite;

// The schema: created and versioned on first use by a store that may write, only checked by a read-only one.
public sealed partial class SqliteConversationStore
{
    // Creates what is missing (every statement is IF NOT EXISTS) and stamps a new file with the version; run once, behind the gate.
    private async Task CreateSchemaAsync(SqliteConnection connection, CancellationToken cancellationToken)
    {
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
            _schema.ThrowIfNewer(StoredVersion(found));
        }
        await transaction.CommitAsync(cancellationToken);
    }

    // Read-only: a file whose schema this version cannot read is refused as in CreateSchemaAsync, but nothing is created.
    // A file without the tables was never a ledger (or is empty); one without the indexes the queries name was written by
    // an earlier layout of schema version 1, which CreateSchemaAsync brings up to date on the first open with write access.
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
        _schema.ThrowIfNewer(StoredVersion(await command.ExecuteScalarAsync(cancellationToken)));
        if (!new[] { "events_by_kind", "messages_by_ordinal", "messages_by_tokens", "entries_by_target" }.All(index => objects.Contains("index " + index)))
        {
            throw new LedgerException($"the database {DataSource} was written by an earlier version whose indexes it still has; opened read-only, they are not brought up to date (open it once with write access)");
        }
    }


    private static long? StoredVersion(object? version) =>
        version is null or DBNull ? null : Convert.ToInt64(version, CultureInfo.InvariantCulture);
}
