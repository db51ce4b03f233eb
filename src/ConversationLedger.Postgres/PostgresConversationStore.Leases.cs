using ConversationLedger.Storage;

namespace ConversationLedger.Postgres;

// Turn leases: one row per leased thread, expiring by the server's clock.
public sealed partial class PostgresConversationStore
{
    // A lease change commits without waiting for its WAL flush (synchronous_commit off for its own transaction only, set
    // inside the statement so it costs no round trip). It is visible to every session at once all the same; what a crash of
    // the server can lose is the last few lease changes, and a lease only spares a model call (the expected sequence guards
    // every append): a lost take lets a second turn run and lose at its commit, a lost release holds the thread until the
    // lease expires, as a crashed holder's does. Appends keep the server's durability.
    private const string NoFlushWait = "set_config('synchronous_commit', 'off', true)";

    /// <inheritdoc />
    /// <remarks>
    /// One row per leased thread, taken or renewed by one upsert that only overwrites an expired row or the holder's own.
    /// Expiry is by the server's clock (<c>clock_timestamp()</c>), so the service instances' clocks need not agree. Lease
    /// changes commit without waiting for the WAL flush: they are visible at once, and a server crash can lose only the last
    /// few (the expected sequence, not the lease, guards appends).
    /// </remarks>
    public async Task<bool> TryAcquireTurnLeaseAsync(ThreadKey key, string holder, TimeSpan duration, CancellationToken cancellationToken = default)
    {
        StoreArguments.CheckLease(key, holder, duration);
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, $"""
            INSERT INTO turn_leases (tenant, scope, thread_id, holder, expires_at)
            SELECT @t, @s, @id, @holder, clock_timestamp() + @duration FROM (SELECT {NoFlushWait}) AS commit_setting
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
        await using var command = Command(connection, null, $"DELETE FROM turn_leases WHERE {ThreadFilter} AND holder = @holder AND {NoFlushWait} IS NOT NULL", key);
        command.Parameters.AddWithValue("holder", holder);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }
}
