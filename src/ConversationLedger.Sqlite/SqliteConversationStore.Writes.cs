using System.Globalization;
using ConversationLedger.Storage;
using Microsoft.Data.Sqlite;

namespace ConversationLedger.Sqlite;

// Writes: appends, forks and erasure, each one transaction that takes the file's write lock up front (BEGIN IMMEDIATE).
public sealed partial class SqliteConversationStore
{
    /// <inheritdoc />
    public Task<AppendResult> AppendAsync(ThreadKey key, long expectedSequence, IReadOnlyList<LedgerEntry> entries, CancellationToken cancellationToken = default) =>
        AppendAsync(key, expectedSequence, entries, null, cancellationToken);

    /// <inheritdoc />
    /// <remarks>One write transaction, so one commit (and sync of the file) instead of two.</remarks>
    public async Task<AppendResult> AppendAndReleaseTurnLeaseAsync(ThreadKey key, long expectedSequence, IReadOnlyList<LedgerEntry> entries, string holder,
        CancellationToken cancellationToken = default)
    {
        StoreArguments.CheckLease(key, holder);
        return await AppendAsync(key, expectedSequence, entries, holder, cancellationToken) with { LeaseReleased = true };
    }

    // An append, and the release of the lease holder's lease in its transaction when there is one.
    private async Task<AppendResult> AppendAsync(ThreadKey key, long expectedSequence, IReadOnlyList<LedgerEntry> entries, string? leaseHolder,
        CancellationToken cancellationToken)
    {
        StoreArguments.CheckAppend(key, expectedSequence, entries);
        await using var connection = await OpenAsync(cancellationToken);
        // BEGIN IMMEDIATE: take the write lock before reading the head, so no other process can append in between.
        await using var transaction = connection.BeginTransaction(deferred: false);
        var head = await ReadHeadAsync(connection, transaction, key, cancellationToken);
        StoreConditions.ThrowIfMoved(head, expectedSequence);
        var (stamped, next) = head.Advance(entries, _time.GetUtcNow());
        await InsertAsync(connection, transaction, key, stamped, cancellationToken);
        await WriteHeadAsync(connection, transaction, next, cancellationToken);
        if (leaseHolder is not null)
        {
            await using var release = Command(connection, transaction, ReleaseLeaseSql, key);
            release.Parameters.AddWithValue("$holder", leaseHolder);
            await release.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        return new AppendResult(stamped, next);
    }

    /// <inheritdoc />
    public async Task<ThreadHead> ForkAsync(ThreadKey source, long atSequence, ThreadKey target, CancellationToken cancellationToken = default)
    {
        StoreArguments.CheckFork(source, target);
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = connection.BeginTransaction(deferred: false);
        StoreConditions.ThrowIfNoForkPoint(await ReadHeadAsync(connection, transaction, source, cancellationToken), atSequence);
        StoreConditions.ThrowIfForkTargetExists(await ReadHeadAsync(connection, transaction, target, cancellationToken));
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
        var copied = ThreadHeads.Copied(target, atSequence, runningTokens, runningMessages, reset);
        var (stamped, head) = copied.Fork(source, atSequence, _time.GetUtcNow());
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
