using ConversationLedger.Storage;
using Npgsql;

namespace ConversationLedger.Postgres;

// Turn leases: one row per leased thread, expiring by the server's clock.
public sealed partial class PostgresConversationStore
{
    /// <inheritdoc />
    /// <remarks>
    /// One row per leased thread, taken or renewed by one upsert that only overwrites an expired row or the holder's own.
    /// Expiry is by the server's clock (<c>clock_timestamp()</c>), so the service instances' clocks need not agree.
    /// </remarks>
    public async Task<bool> TryAcquireTurnLeaseAsync(ThreadKey key, string holder, TimeSpan duration, CancellationToken cancellationToken = default)
    {
        StoreArguments.CheckLease(key, holder, duration);
        await using var connection = await OpenAsync(cancellationToken);
        await using var batch = new NpgsqlBatch(connection) { BatchCommands = { LeaseCommand(key, holder, duration) } };
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken);
    }

    // Takes or renews the lease; returns a row only when it did.
    private static NpgsqlBatchCommand LeaseCommand(ThreadKey key, string holder, TimeSpan duration) => BatchCommand("""
        INSERT INTO turn_leases (tenant, scope, thread_id, holder, expires_at) VALUES (@t, @s, @id, @holder, clock_timestamp() + @duration)
        ON CONFLICT (tenant, scope, thread_id) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
        WHERE turn_leases.expires_at <= clock_timestamp() OR turn_leases.holder = EXCLUDED.holder
        RETURNING 1
        """, key, ("holder", holder), ("duration", duration));

    /// <inheritdoc />
    public async Task<bool> ReleaseTurnLeaseAsync(ThreadKey key, string holder, CancellationToken cancellationToken = default)
    {
        StoreArguments.CheckLease(key, holder);
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, $"DELETE FROM turn_leases WHERE {ThreadFilter} AND holder = @holder", key);
        command.Parameters.AddWithValue("holder", holder);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }
}
