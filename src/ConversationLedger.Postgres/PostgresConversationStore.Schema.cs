using Npgsql;

namespace ConversationLedger.Postgres;

// The schema: created and versioned on first use, under an advisory lock shared by every process.
public sealed partial class PostgresConversationStore
{
    // Creates the schema unless the database has it; run once, behind the gate.
    private async Task CreateSchemaAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        // Fast path: DDL takes table locks even when nothing needs creating, and those locks deadlock with
        // concurrent appends, so only a database without the current version runs it.
        if (await VersionAsync(connection, null, cancellationToken) is { } current && current >= SchemaVersion)
        {
            _schema.ThrowIfNewer(current);
            await EnsureLeaseTableAsync(connection, cancellationToken);
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
            _schema.ThrowIfNewer(created);
            await transaction.CommitAsync(cancellationToken);
            await EnsureLeaseTableAsync(connection, cancellationToken);
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
            _schema.ThrowIfNewer((int)found);
        }
        await transaction.CommitAsync(cancellationToken);
        await EnsureLeaseTableAsync(connection, cancellationToken);
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
}
