using System.Globalization;
using ConversationLedger.Storage;

namespace ConversationLedger.Sqlite;

// Turn leases: one row per leased thread.
public sealed partial class SqliteConversationStore
{
    /// <inheritdoc />
    /// <remarks>
    /// One row per leased thread (holder, expiry in Unix milliseconds by this store's clock), taken or renewed by one upsert
    /// that only overwrites an expired row or the holder's own; a statement is a transaction holding the file's write lock,
    /// so processes sharing the file see one holder. Lease writes commit without waiting for the disk
    /// (<see cref="LeaseDurability"/>).
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
        await using var command = Command(connection, null, LeaseDurability + """
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

    // A lease only matters to processes that are running: its commit is safe in the WAL file once written (a process that
    // dies loses nothing), and only a crash of the machine, which ends every holder with it, can lose it. So lease writes
    // skip the fsync that turns need (synchronous = NORMAL for this statement's connection; every open sets FULL again).
    private const string LeaseDurability = "PRAGMA synchronous = NORMAL;\n";

    // The holder's lease only: one taken by another holder after it expired stays.
    private const string ReleaseLeaseSql = "DELETE FROM turn_leases WHERE tenant = $t AND scope = $s AND thread_id = $id AND holder = $holder";

    /// <inheritdoc />
    public async Task<bool> ReleaseTurnLeaseAsync(ThreadKey key, string holder, CancellationToken cancellationToken = default)
    {
        StoreArguments.CheckLease(key, holder);
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, LeaseDurability + ReleaseLeaseSql + "; SELECT changes();", key);
        command.Parameters.AddWithValue("$holder", holder);
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture) == 1;
    }
}
