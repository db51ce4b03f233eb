using ConversationLedger.Storage;
using Npgsql;
using NpgsqlTypes;

namespace ConversationLedger.Postgres;

// Writes: appends, forks and erasure, serialized per thread on its head row (see the locks in the main file).
public sealed partial class PostgresConversationStore
{
    /// <inheritdoc />
    public Task<AppendResult> AppendAsync(ThreadKey key, long expectedSequence, IReadOnlyList<LedgerEntry> entries, CancellationToken cancellationToken = default) =>
        AppendAsync(key, expectedSequence, entries, null, cancellationToken);

    /// <inheritdoc />
    public async Task<AppendResult> AppendAndReleaseTurnLeaseAsync(ThreadKey key, long expectedSequence, IReadOnlyList<LedgerEntry> entries, string holder,
        CancellationToken cancellationToken = default)
    {
        StoreArguments.CheckLease(key, holder);
        return await AppendAsync(key, expectedSequence, entries, holder, cancellationToken) with { LeaseReleased = true };
    }

    // An append, and the release of the lease holder's lease in the same statement when there is one.
    private async Task<AppendResult> AppendAsync(ThreadKey key, long expectedSequence, IReadOnlyList<LedgerEntry> entries, string? leaseHolder,
        CancellationToken cancellationToken)
    {
        StoreArguments.CheckAppend(key, expectedSequence, entries);
        await using var connection = await OpenAsync(cancellationToken);
        try
        {
            // Two round trips, one write transaction: the head as it is, then one statement that moves it on only if it is
            // still that head and inserts the entries only if it did (see AdvanceSql).
            var head = await ReadHeadAsync(connection, null, key, NoLock, cancellationToken);
            StoreConditions.ThrowIfMoved(head, expectedSequence);
            var (stamped, next) = head.Advance(entries, Now());
            if (!await AdvanceAsync(connection, head, next, stamped, leaseHolder, cancellationToken))
            {
                throw await ConflictAsync(connection, key, expectedSequence);
            }
            await RefreshStatisticsAfterBulkAsync(connection, stamped.Count, cancellationToken);
            return new AppendResult(stamped, next);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            // A writer that stores entries before the head (a fork onto this thread) took these sequence numbers first.
            throw await ConflictAsync(connection, key, expectedSequence);
        }
    }

    private static async Task<ConcurrencyConflictException> ConflictAsync(NpgsqlConnection connection, ThreadKey key, long expectedSequence)
    {
        var actual = await ReadHeadAsync(connection, null, key, NoLock, CancellationToken.None);
        return new ConcurrencyConflictException(key, expectedSequence, actual.LastSequence);
    }

    // The head moves from what was read (an update that matches only that row version: the sequence, and the creation time in
    // case the thread was erased and made again meanwhile; a new thread: an insert that loses to any head) and the entries
    // go in only if it moved (and the turn's lease goes only then too), in one statement, so one auto-committed transaction.
    // The update locks the head row as the old SELECT … FOR NO KEY UPDATE did, so appends, forks and deletes still serialize
    // on it: a writer that waited for the row finds it changed and moves nothing.
    private const string AdvanceSql = $$"""
        WITH head AS ({0} RETURNING 1){1}
        {{InsertEntriesSql}} WHERE EXISTS (SELECT 1 FROM head)
        """;

    private const string HeadColumns = "last_sequence = @last, running_tokens = @tokens_sum, running_messages = @messages, reset_sequence = @reset, updated_at = @updated";

    private const string ReleaseLeaseSql = $"""
        ,
        released AS (DELETE FROM turn_leases WHERE {ThreadFilter} AND holder = @holder AND EXISTS (SELECT 1 FROM head))
        """;

    private static async Task<bool> AdvanceAsync(NpgsqlConnection connection, ThreadHead from, ThreadHead to, IReadOnlyList<LedgerEntry> entries,
        string? leaseHolder, CancellationToken cancellationToken)
    {
        var moveHead = from.Exists
            ? $"UPDATE threads SET {HeadColumns} WHERE {ThreadFilter} AND last_sequence = @expected AND created_at = @created"
            : """
              INSERT INTO threads (tenant, scope, thread_id, last_sequence, running_tokens, running_messages, reset_sequence, created_at, updated_at)
              VALUES (@t, @s, @id, @last, @tokens_sum, @messages, @reset, @created, @updated) ON CONFLICT (tenant, scope, thread_id) DO NOTHING
              """;
        var sql = string.Format(System.Globalization.CultureInfo.InvariantCulture, AdvanceSql, moveHead, leaseHolder is null ? "" : ReleaseLeaseSql);
        await using var command = Command(connection, null, sql, to.Key);
        if (leaseHolder is not null)
        {
            command.Parameters.AddWithValue("holder", leaseHolder);
        }
        command.Parameters.AddWithValue("expected", from.LastSequence);
        command.Parameters.AddWithValue("created", (from.Exists ? from.CreatedAt : to.CreatedAt).ToUniversalTime());
        command.Parameters.AddWithValue("last", to.LastSequence);
        command.Parameters.AddWithValue("tokens_sum", to.RunningTokens);
        command.Parameters.AddWithValue("messages", to.RunningMessages);
        command.Parameters.AddWithValue("reset", to.ResetSequence);
        command.Parameters.AddWithValue("updated", to.UpdatedAt.ToUniversalTime());
        AddEntryParameters(command, entries);
        return await command.ExecuteNonQueryAsync(cancellationToken) > 0;
    }

    /// <summary>Appends of at least this many entries (imports, forks) refresh the planner's statistics.</summary>
    public const int BulkAppendEntries = 1000;

    // Measured: right after a 100,000-entry import, before autovacuum's ANALYZE ran, the planner misjudged the window
    // ranges and a turn took ~180 ms instead of ~4 ms. A bulk write refreshes the statistics itself (best effort:
    // the data is committed either way).
    private static async Task RefreshStatisticsAfterBulkAsync(NpgsqlConnection connection, int written, CancellationToken cancellationToken)
    {
        if (written < BulkAppendEntries)
        {
            return;
        }
        try
        {
            await using var analyze = new NpgsqlCommand("ANALYZE entries", connection);
            await analyze.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (PostgresException)
        {
        }
    }

    /// <inheritdoc />
    public async Task<ThreadHead> ForkAsync(ThreadKey source, long atSequence, ThreadKey target, CancellationToken cancellationToken = default)
    {
        StoreArguments.CheckFork(source, target);
        await using var connection = await OpenAsync(cancellationToken);
        try
        {
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            StoreConditions.ThrowIfNoForkPoint(await ReadHeadAsync(connection, transaction, source, ForkSourceLock, cancellationToken), atSequence);
            StoreConditions.ThrowIfForkTargetExists(await ReadHeadAsync(connection, transaction, target, NoLock, cancellationToken));
            // Copy the prefix inside the database: rows are immutable, so a copy is exact (sums included).
            await using (var copy = Command(connection, transaction, $"""
                INSERT INTO entries (tenant, scope, thread_id, sequence, kind, payload, target, turn_id, recorded_at, tokens, running_tokens, running_messages)
                SELECT @t2, @s2, @id2, sequence, kind, payload, target, turn_id, recorded_at, tokens, running_tokens, running_messages
                FROM entries WHERE {ThreadFilter} AND sequence <= @at
                """, source))
            {
                copy.Parameters.AddWithValue("t2", target.Tenant);
                copy.Parameters.AddWithValue("s2", target.Scope);
                copy.Parameters.AddWithValue("id2", target.ThreadId);
                copy.Parameters.AddWithValue("at", atSequence);
                await copy.ExecuteNonQueryAsync(cancellationToken);
            }
            var copied = ThreadHead.Empty(target) with { LastSequence = atSequence };
            await using (var sums = Command(connection, transaction, $"""
                SELECT running_tokens, running_messages,
                       COALESCE((SELECT MAX(sequence) FROM entries WHERE {ThreadFilter} AND kind = 'reset'), 0)
                FROM entries WHERE {ThreadFilter} AND sequence = @at
                """, target))
            {
                sums.Parameters.AddWithValue("at", atSequence);
                await using var reader = await sums.ExecuteReaderAsync(cancellationToken);
                if (await reader.ReadAsync(cancellationToken))
                {
                    copied = copied with { RunningTokens = reader.GetInt64(0), RunningMessages = reader.GetInt64(1), ResetSequence = reader.GetInt64(2) };
                }
            }
            var (stamped, head) = copied.Fork(source, atSequence, Now());
            await InsertAsync(connection, transaction, target, stamped, cancellationToken);
            await WriteHeadAsync(connection, transaction, head, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            await RefreshStatisticsAfterBulkAsync(connection, (int)Math.Min(atSequence, int.MaxValue), cancellationToken);
            return head;
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            var actual = await ReadHeadAsync(connection, null, target, NoLock, CancellationToken.None);
            throw new ConcurrencyConflictException(target, 0, actual.LastSequence);
        }
    }

    /// <inheritdoc />
    public async Task<bool> DeleteThreadAsync(ThreadKey key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // The head first: it waits for an append or fork holding it (see the locks in the main file), so the entries delete sees theirs.
        await using (var lease = Command(connection, transaction, $"DELETE FROM turn_leases WHERE {ThreadFilter}", key))
        {
            await lease.ExecuteNonQueryAsync(cancellationToken);
        }
        await using var threads = Command(connection, transaction, $"DELETE FROM threads WHERE {ThreadFilter}", key);
        var count = await threads.ExecuteNonQueryAsync(cancellationToken);
        await using (var entries = Command(connection, transaction, $"DELETE FROM entries WHERE {ThreadFilter} AND {Headless}", key))
        {
            await entries.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        return count > 0;
    }

    /// <inheritdoc />
    public async Task<int> DeleteTenantAsync(string tenant, CancellationToken cancellationToken = default)
    {
        ThreadKey.CheckPart(tenant, nameof(tenant));
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // Heads first, as in DeleteThreadAsync.
        await using (var leases = new NpgsqlCommand("DELETE FROM turn_leases WHERE tenant = @t", connection, transaction))
        {
            leases.Parameters.AddWithValue("t", tenant);
            await leases.ExecuteNonQueryAsync(cancellationToken);
        }
        await using var threads = new NpgsqlCommand("DELETE FROM threads WHERE tenant = @t", connection, transaction);
        threads.Parameters.AddWithValue("t", tenant);
        var count = await threads.ExecuteNonQueryAsync(cancellationToken);
        await using (var entries = new NpgsqlCommand($"DELETE FROM entries WHERE tenant = @t AND {Headless}", connection, transaction))
        {
            entries.Parameters.AddWithValue("t", tenant);
            await entries.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        return count;
    }

    private static async Task InsertAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, ThreadKey key,
        IReadOnlyList<LedgerEntry> entries, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, InsertEntriesSql, key);
        AddEntryParameters(command, entries);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    // One round trip for the whole batch: the entries' columns as arrays (AddEntryParameters), unnested into rows.
    private const string InsertEntriesSql = """
        INSERT INTO entries (tenant, scope, thread_id, sequence, kind, payload, target, turn_id, recorded_at, tokens, running_tokens, running_messages)
        SELECT @t, @s, @id, * FROM unnest(@seq, @kind, @payload, @target, @turn, @at, @tokens, @rt, @rm)
        """;

    private static void AddEntryParameters(NpgsqlCommand command, IReadOnlyList<LedgerEntry> entries)
    {
        command.Parameters.AddWithValue("seq", entries.Select(e => e.Sequence).ToArray());
        command.Parameters.AddWithValue("kind", entries.Select(e => EntryCodec.KindName(e.Kind)).ToArray());
        command.Parameters.AddWithValue("payload", entries.Select(EntryCodec.EncodePayload).ToArray());
        command.Parameters.Add(new NpgsqlParameter<long?[]>("target", NpgsqlDbType.Array | NpgsqlDbType.Bigint)
        {
            TypedValue = entries.Select(EntryCodec.TargetOf).ToArray(),
        });
        command.Parameters.Add(new NpgsqlParameter<string?[]>("turn", NpgsqlDbType.Array | NpgsqlDbType.Text)
        {
            TypedValue = entries.Select(e => e.TurnId).ToArray(),
        });
        command.Parameters.AddWithValue("at", entries.Select(e => e.RecordedAt.ToUniversalTime()).ToArray());
        command.Parameters.AddWithValue("tokens", entries.Select(e => e.Tokens).ToArray());
        command.Parameters.AddWithValue("rt", entries.Select(e => e.RunningTokens).ToArray());
        command.Parameters.AddWithValue("rm", entries.Select(e => e.RunningMessages).ToArray());
    }
}
