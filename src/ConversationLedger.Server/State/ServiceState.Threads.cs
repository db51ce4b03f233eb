using System.Data.Common;
using System.Text;
using System.Text.Json;

namespace ConversationLedger.Server.State;

/// <summary>A thread the service serves: its settings and metadata, and its activity as of its last turn.</summary>
public sealed record ThreadInfo
{
    /// <summary>The thread.</summary>
    public required ThreadKey Key { get; init; }

    /// <summary>The model its turns use (null: the service's default).</summary>
    public string? Model { get; init; }

    /// <summary>The history policy its turns use (null: the service's default).</summary>
    public string? Policy { get; init; }

    /// <summary>Free-form string pairs to find it by.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();

    /// <summary>Days of inactivity after which retention archives or erases it (null: the tenant's or service's default).</summary>
    public int? RetentionDays { get; init; }

    /// <summary>When it was created.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>When it last changed.</summary>
    public DateTimeOffset ActivityAt { get; init; }

    /// <summary>Messages in its ledger as of its last turn.</summary>
    public long Messages { get; init; }

    /// <summary>Tokens in its ledger as of its last turn.</summary>
    public long Tokens { get; init; }

    /// <summary>What its model calls cost so far.</summary>
    public decimal CostUsd { get; init; }

    /// <summary>When retention archived it (null: not archived).</summary>
    public DateTimeOffset? ArchivedAt { get; init; }
}

/// <summary>A tenant's billed model calls on one UTC day.</summary>
public sealed record DailyUsage(DateOnly Day, long Calls, long InputTokens, long CacheReadInputTokens, long CacheCreationInputTokens, long OutputTokens, decimal CostUsd);

/// <summary>Which threads a listing returns.</summary>
public sealed record ThreadQuery
{
    /// <summary>Only this scope.</summary>
    public string? Scope { get; init; }

    /// <summary>Only threads whose id contains this text.</summary>
    public string? IdContains { get; init; }

    /// <summary>Only threads with every one of these metadata pairs.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();

    /// <summary>Archived threads too.</summary>
    public bool IncludeArchived { get; init; }
}

public sealed partial class ServiceState
{
    private const string ThreadColumns =
        "scope, thread_id, model, policy, metadata, retention_days, created_at, activity_at, messages, tokens, cost_nanos, archived_at";

    /// <summary>Records a new thread. Returns false (and changes nothing) when the tenant already has a thread with that key.</summary>
    public async Task<bool> CreateThreadAsync(ThreadInfo thread, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(thread);
        var now = Now;
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var insert = Command(connection,
            "INSERT INTO ledger_threads (tenant, scope, thread_id, model, policy, metadata, retention_days, created_at, activity_at, messages, tokens) " +
            "VALUES (@tenant, @scope, @id, @model, @policy, @metadata, @retention, @now, @now, @messages, @tokens) ON CONFLICT DO NOTHING",
            [.. KeyParameters(thread.Key), ("@model", thread.Model), ("@policy", thread.Policy),
             ("@metadata", JsonSerializer.Serialize(thread.Metadata)), ("@retention", thread.RetentionDays), ("@now", now),
             ("@messages", thread.Messages), ("@tokens", thread.Tokens)]);
        insert.Transaction = transaction;
        if (await insert.ExecuteNonQueryAsync(cancellationToken) == 0)
        {
            return false;
        }
        await WriteTagsAsync(connection, transaction, thread.Key, thread.Metadata, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>The thread, or null when the tenant has no thread with that key.</summary>
    public async Task<ThreadInfo?> GetThreadAsync(ThreadKey key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        var rows = await QueryAsync($"SELECT {ThreadColumns} FROM ledger_threads WHERE tenant = @tenant AND scope = @scope AND thread_id = @id",
            r => ReadThread(key.Tenant, r), cancellationToken, KeyParameters(key));
        return rows.Count == 1 ? rows[0] : null;
    }

    /// <summary>Replaces a thread's settings and metadata. Returns false when it does not exist.</summary>
    public async Task<bool> UpdateThreadAsync(ThreadInfo thread, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(thread);
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var update = Command(connection,
            "UPDATE ledger_threads SET model = @model, policy = @policy, metadata = @metadata, retention_days = @retention, activity_at = @now " +
            "WHERE tenant = @tenant AND scope = @scope AND thread_id = @id",
            [.. KeyParameters(thread.Key), ("@model", thread.Model), ("@policy", thread.Policy),
             ("@metadata", JsonSerializer.Serialize(thread.Metadata)), ("@retention", thread.RetentionDays), ("@now", Now)]);
        update.Transaction = transaction;
        if (await update.ExecuteNonQueryAsync(cancellationToken) == 0)
        {
            return false;
        }
        await using (var clear = Command(connection, "DELETE FROM ledger_thread_tags WHERE tenant = @tenant AND scope = @scope AND thread_id = @id", KeyParameters(thread.Key)))
        {
            clear.Transaction = transaction;
            await clear.ExecuteNonQueryAsync(cancellationToken);
        }
        await WriteTagsAsync(connection, transaction, thread.Key, thread.Metadata, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>
    /// Records a thread's activity after a change — its size now — and the billed model calls it made: added to the thread's cost
    /// and to its tenant's day (UTC). One round trip, one transaction (on PostgreSQL; SQLite's is local).
    /// </summary>
    /// <remarks>
    /// A tenant's day is <see cref="UsageShards"/> rows, each call added to one picked at random: with one row, every turn of a
    /// busy tenant waited for the previous turn's commit to take that row's lock.
    /// </remarks>
    public async Task RecordActivityAsync(ThreadHead head, IReadOnlyList<UsageRecord> calls, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(head);
        ArgumentNullException.ThrowIfNull(calls);
        var sql = new StringBuilder(
            "UPDATE ledger_threads SET activity_at = @now, messages = @messages, tokens = @tokens, cost_nanos = cost_nanos + @cost, archived_at = NULL " +
            "WHERE tenant = @tenant AND scope = @scope AND thread_id = @id;");
        var parameters = new List<(string, object?)>([.. KeyParameters(head.Key), ("@now", Now), ("@messages", head.RunningMessages),
            ("@tokens", head.RunningTokens), ("@cost", calls.Sum(c => Nanos(c.CostUsd))),
            ("@day", _time.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture)),
            ("@shard", Random.Shared.Next(UsageShards))]);
        for (var i = 0; i < calls.Count; i++)
        {
            var u = calls[i].Usage;
            sql.Append(
                "INSERT INTO ledger_usage_shards AS u (tenant, day, shard, calls, input_tokens, cache_read_tokens, cache_write_tokens, output_tokens, cost_nanos) " +
                $"VALUES (@tenant, @day, @shard, 1, @in{i}, @read{i}, @write{i}, @out{i}, @cost{i}) ON CONFLICT (tenant, day, shard) DO UPDATE SET " +
                "calls = u.calls + 1, input_tokens = u.input_tokens + excluded.input_tokens, cache_read_tokens = u.cache_read_tokens + excluded.cache_read_tokens, " +
                "cache_write_tokens = u.cache_write_tokens + excluded.cache_write_tokens, output_tokens = u.output_tokens + excluded.output_tokens, " +
                "cost_nanos = u.cost_nanos + excluded.cost_nanos;");
            parameters.AddRange([($"@in{i}", u.InputTokens), ($"@read{i}", u.CacheReadInputTokens), ($"@write{i}", u.CacheCreationInputTokens),
                ($"@out{i}", u.OutputTokens), ($"@cost{i}", Nanos(calls[i].CostUsd))]);
        }
        await using var connection = await OpenAsync(cancellationToken);
        // Npgsql sends the statements as one batch, which PostgreSQL runs as one transaction (no BEGIN, no COMMIT round trip);
        // SQLite runs them one by one, so there they need a transaction of their own.
        await using var transaction = IsSqlite ? await connection.BeginTransactionAsync(cancellationToken) : null;
        await using var command = Command(connection, sql.ToString(), [.. parameters]);
        command.Transaction = transaction;
        await command.ExecuteNonQueryAsync(cancellationToken);
        if (transaction is not null)
        {
            await transaction.CommitAsync(cancellationToken);
        }
    }

    private static long Nanos(decimal usd) => (long)(usd * 1_000_000_000m);

    /// <summary>Rows per tenant and day that calls are added to (summed when read).</summary>
    internal const int UsageShards = 16;

    private static readonly string[] UsageColumns = ["calls", "input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens", "cost_nanos"];

    /// <summary>A tenant's usage per UTC day from <paramref name="from"/> through <paramref name="to"/> (days with calls only).</summary>
    public Task<List<DailyUsage>> ListUsageDaysAsync(string tenant, DateOnly from, DateOnly to, CancellationToken cancellationToken = default) =>
        QueryAsync(
            "SELECT day, " + string.Join(", ", UsageColumns.Select(c => $"CAST(SUM({c}) AS BIGINT)")) + " " +
            "FROM ledger_usage_shards WHERE tenant = @tenant AND day >= @from AND day <= @to GROUP BY day ORDER BY day",
            r => new DailyUsage(DateOnly.ParseExact(r.GetString(0), "yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture), r.GetInt64(1), r.GetInt64(2),
                r.GetInt64(3), r.GetInt64(4), r.GetInt64(5), r.GetInt64(6) / 1_000_000_000m),
            cancellationToken, ("@tenant", tenant), ("@from", from.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture)),
            ("@to", to.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture)));

    /// <summary>A tenant's threads, newest activity first, one page at a time (the cursor comes from the previous page).</summary>
    /// <exception cref="FormatException">The cursor is not one this method returned.</exception>
    public async Task<(List<ThreadInfo> Threads, string? NextCursor)> ListThreadsAsync(string tenant, ThreadQuery query, string? cursor, int limit,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        var sql = new StringBuilder($"SELECT {ThreadColumns} FROM ledger_threads t WHERE tenant = @tenant");
        var parameters = new List<(string, object?)> { ("@tenant", tenant), ("@limit", limit + 1) };
        if (query.Scope is { } scope)
        {
            sql.Append(" AND scope = @scope");
            parameters.Add(("@scope", scope));
        }
        if (query.IdContains is { Length: > 0 } text)
        {
            sql.Append(@" AND thread_id LIKE @like ESCAPE '\'");
            parameters.Add(("@like", "%" + text.Replace(@"\", @"\\", StringComparison.Ordinal).Replace("%", @"\%", StringComparison.Ordinal).Replace("_", @"\_", StringComparison.Ordinal) + "%"));
        }
        if (!query.IncludeArchived)
        {
            sql.Append(" AND archived_at IS NULL");
        }
        var n = 0;
        foreach (var (name, value) in query.Metadata)
        {
            sql.Append($" AND EXISTS (SELECT 1 FROM ledger_thread_tags g WHERE g.tenant = t.tenant AND g.scope = t.scope AND g.thread_id = t.thread_id AND g.name = @n{n} AND g.value = @v{n})");
            parameters.Add(($"@n{n}", name));
            parameters.Add(($"@v{n}", value));
            n++;
        }
        if (cursor is not null)
        {
            var (activity, afterScope, afterId) = DecodeCursor(cursor);
            sql.Append(" AND (activity_at < @ca OR (activity_at = @ca AND (scope > @cs OR (scope = @cs AND thread_id > @ci))))");
            parameters.AddRange([("@ca", activity), ("@cs", afterScope), ("@ci", afterId)]);
        }
        sql.Append(" ORDER BY activity_at DESC, scope, thread_id LIMIT @limit");
        var rows = await QueryAsync(sql.ToString(), r => ReadThread(tenant, r), cancellationToken, [.. parameters]);
        string? next = null;
        if (rows.Count > limit)
        {
            rows.RemoveAt(limit);
            var last = rows[^1];
            next = Base64Url(JsonSerializer.SerializeToUtf8Bytes(new object[] { last.ActivityAt.ToUnixTimeMilliseconds(), last.Key.Scope, last.Key.ThreadId }));
        }
        return (rows, next);
    }

    /// <summary>
    /// Threads idle for longer than their retention (their own setting, else <paramref name="days"/>; 0 days: kept), oldest activity
    /// first: of <paramref name="tenant"/> only, or (null) of every tenant but <paramref name="exceptTenants"/>.
    /// </summary>
    public Task<List<ThreadInfo>> ListIdleAsync(string? tenant, IReadOnlyCollection<string> exceptTenants, int days, int limit,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(exceptTenants);
        var sql = new StringBuilder($"SELECT {ThreadColumns}, tenant FROM ledger_threads WHERE archived_at IS NULL AND ");
        sql.Append("COALESCE(retention_days, @days) > 0 AND activity_at < @now - COALESCE(retention_days, @days) * CAST(86400000 AS BIGINT)");
        var parameters = new List<(string, object?)> { ("@now", Now), ("@days", days), ("@limit", limit) };
        if (tenant is not null)
        {
            sql.Append(" AND tenant = @tenant");
            parameters.Add(("@tenant", tenant));
        }
        var i = 0;
        foreach (var other in exceptTenants)
        {
            sql.Append($" AND tenant <> @x{i}");
            parameters.Add(($"@x{i++}", other));
        }
        sql.Append(" ORDER BY activity_at LIMIT @limit");
        return QueryAsync(sql.ToString(), r => ReadThread(r.GetString(12), r), cancellationToken, [.. parameters]);
    }

    /// <summary>Marks a thread archived (hidden from listings unless asked for) until its next activity.</summary>
    public Task ArchiveThreadAsync(ThreadKey key, CancellationToken cancellationToken = default) =>
        ExecuteAsync("UPDATE ledger_threads SET archived_at = @now WHERE tenant = @tenant AND scope = @scope AND thread_id = @id",
            cancellationToken, [.. KeyParameters(key), ("@now", Now)]);

    /// <summary>Forgets a thread (its ledger is erased by the caller). Returns false when it was not recorded.</summary>
    public async Task<bool> DeleteThreadAsync(ThreadKey key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        await ExecuteAsync("DELETE FROM ledger_thread_tags WHERE tenant = @tenant AND scope = @scope AND thread_id = @id", cancellationToken, KeyParameters(key));
        await ExecuteAsync("DELETE FROM ledger_turns WHERE tenant = @tenant AND scope = @scope AND thread_id = @id", cancellationToken, KeyParameters(key));
        return await ExecuteAsync("DELETE FROM ledger_threads WHERE tenant = @tenant AND scope = @scope AND thread_id = @id", cancellationToken, KeyParameters(key)) == 1;
    }

    /// <summary>Forgets everything of a tenant (its usage history included) but its keys; returns the number of threads forgotten.</summary>
    public async Task<int> DeleteTenantAsync(string tenant, CancellationToken cancellationToken = default)
    {
        ThreadKey.CheckPart(tenant, nameof(tenant));
        await ExecuteAsync("DELETE FROM ledger_thread_tags WHERE tenant = @tenant", cancellationToken, ("@tenant", tenant));
        await ExecuteAsync("DELETE FROM ledger_turns WHERE tenant = @tenant", cancellationToken, ("@tenant", tenant));
        await ExecuteAsync("DELETE FROM ledger_usage_shards WHERE tenant = @tenant", cancellationToken, ("@tenant", tenant));
        return await ExecuteAsync("DELETE FROM ledger_threads WHERE tenant = @tenant", cancellationToken, ("@tenant", tenant));
    }

    private static async Task WriteTagsAsync(DbConnection connection, DbTransaction transaction, ThreadKey key, IReadOnlyDictionary<string, string> metadata,
        CancellationToken cancellationToken)
    {
        foreach (var (name, value) in metadata)
        {
            await using var tag = Command(connection, "INSERT INTO ledger_thread_tags (tenant, scope, thread_id, name, value) VALUES (@tenant, @scope, @id, @name, @value)",
                [.. KeyParameters(key), ("@name", name), ("@value", value)]);
            tag.Transaction = transaction;
            await tag.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    private static (string, object?)[] KeyParameters(ThreadKey key) =>
        [("@tenant", key.Tenant), ("@scope", key.Scope), ("@id", key.ThreadId)];

    private static ThreadInfo ReadThread(string tenant, DbDataReader r) => new()
    {
        Key = new ThreadKey(tenant, r.GetString(0), r.GetString(1)),
        Model = StringOrNull(r, 2),
        Policy = StringOrNull(r, 3),
        Metadata = JsonSerializer.Deserialize<Dictionary<string, string>>(r.GetString(4)) ?? [],
        RetentionDays = r.IsDBNull(5) ? null : r.GetInt32(5),
        CreatedAt = Time(r.GetInt64(6)),
        ActivityAt = Time(r.GetInt64(7)),
        Messages = r.GetInt64(8),
        Tokens = r.GetInt64(9),
        CostUsd = r.GetInt64(10) / 1_000_000_000m,
        ArchivedAt = TimeOrNull(r, 11),
    };

    private static (long Activity, string Scope, string Id) DecodeCursor(string cursor)
    {
        try
        {
            var padded = cursor.Replace('-', '+').Replace('_', '/');
            padded += new string('=', (4 - padded.Length % 4) % 4);
            var parts = JsonSerializer.Deserialize<JsonElement[]>(Convert.FromBase64String(padded));
            if (parts is [{ ValueKind: JsonValueKind.Number } a, { ValueKind: JsonValueKind.String } s, { ValueKind: JsonValueKind.String } i])
            {
                return (a.GetInt64(), s.GetString()!, i.GetString()!);
            }
        }
        catch (Exception ex) when (ex is JsonException or FormatException)
        {
            throw new FormatException("the cursor is not one a listing returned", ex);
        }
        throw new FormatException("the cursor is not one a listing returned");
    }
}
