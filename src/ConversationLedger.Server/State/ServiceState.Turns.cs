using System.Data.Common;

namespace ConversationLedger.Server.State;

/// <summary>What became of a turn the service started.</summary>
public enum TurnStatus
{
    /// <summary>In flight on some instance.</summary>
    Running,
    /// <summary>Stored; <see cref="TurnRecord.Result"/> holds the response.</summary>
    Committed,
    /// <summary>Failed or cancelled; nothing of it was stored. <see cref="TurnRecord.Result"/> holds the problem.</summary>
    Failed,
}

/// <summary>
/// A turn the service started, kept so that any instance can answer for it: a retried request with the same idempotency
/// key, a client re-attaching to its stream, a cancel request.
/// </summary>
public sealed record TurnRecord
{
    /// <summary>The thread.</summary>
    public required ThreadKey Key { get; init; }

    /// <summary>The turn's id, which its ledger entries carry too.</summary>
    public required string TurnId { get; init; }

    /// <summary>The client's idempotency key, if it sent one.</summary>
    public string? IdempotencyKey { get; init; }

    /// <summary>A hash of the request, so a key reused for a different request is refused.</summary>
    public required string RequestHash { get; init; }

    /// <summary>Where it stands.</summary>
    public TurnStatus Status { get; init; }

    /// <summary>The thread's newest entry when the turn started.</summary>
    public long StartSequence { get; init; }

    /// <summary>When it last changed (a running turn's instance renews it).</summary>
    public DateTimeOffset UpdatedAt { get; init; }

    /// <summary>The response JSON (committed) or problem JSON (failed).</summary>
    public string? Result { get; init; }

    /// <summary>Whether a client asked to cancel it.</summary>
    public bool CancelRequested { get; init; }
}

public sealed partial class ServiceState
{
    private const string TurnColumns = "scope, thread_id, turn_id, idempotency_key, request_hash, status, start_sequence, updated_at, result, cancel_requested";

    /// <summary>
    /// Records a running turn, unless its idempotency key is taken: then nothing is written and the turn that holds the key is
    /// returned instead.
    /// </summary>
    public async Task<TurnRecord?> TryStartTurnAsync(TurnRecord turn, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(turn);
        var inserted = await ExecuteAsync(
            "INSERT INTO ledger_turns (tenant, turn_id, scope, thread_id, idempotency_key, request_hash, status, start_sequence, created_at, updated_at) " +
            "VALUES (@tenant, @turn, @scope, @id, @key, @hash, 'running', @start, @now, @now) ON CONFLICT DO NOTHING",
            cancellationToken, [.. KeyParameters(turn.Key), ("@turn", turn.TurnId), ("@key", turn.IdempotencyKey), ("@hash", turn.RequestHash),
            ("@start", turn.StartSequence), ("@now", Now)]);
        if (inserted == 1)
        {
            return null;
        }
        return turn.IdempotencyKey is { } key ? await FindTurnByKeyAsync(turn.Key.Tenant, key, cancellationToken) : await GetTurnAsync(turn.Key.Tenant, turn.TurnId, cancellationToken);
    }

    /// <summary>
    /// Takes over a running turn whose instance stopped renewing it before <paramref name="staleBefore"/>: it becomes
    /// <paramref name="replacement"/>. Returns false when it was renewed, finished or taken over by someone else meanwhile.
    /// </summary>
    public async Task<bool> TakeOverTurnAsync(TurnRecord stale, TurnRecord replacement, DateTimeOffset staleBefore, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stale);
        ArgumentNullException.ThrowIfNull(replacement);
        return await ExecuteAsync(
            "UPDATE ledger_turns SET turn_id = @new, start_sequence = @start, updated_at = @now, cancel_requested = 0 " +
            "WHERE tenant = @tenant AND turn_id = @old AND status = 'running' AND updated_at < @stale",
            cancellationToken, ("@tenant", stale.Key.Tenant), ("@old", stale.TurnId), ("@new", replacement.TurnId), ("@start", replacement.StartSequence),
            ("@now", Now), ("@stale", staleBefore.ToUnixTimeMilliseconds())) == 1;
    }

    /// <summary>Marks a running turn as alive; returns whether a client asked to cancel it.</summary>
    public async Task<bool> RenewTurnAsync(string tenant, string turnId, CancellationToken cancellationToken = default)
    {
        var rows = await QueryAsync(
            "UPDATE ledger_turns SET updated_at = @now WHERE tenant = @tenant AND turn_id = @turn AND status = 'running' RETURNING cancel_requested",
            r => r.GetInt32(0) != 0, cancellationToken, ("@now", Now), ("@tenant", tenant), ("@turn", turnId));
        return rows is [true];
    }

    /// <summary>Records how a turn ended. A failed turn without an idempotency key is forgotten after a while by <see cref="PruneTurnsAsync"/>.</summary>
    public Task FinishTurnAsync(string tenant, string turnId, TurnStatus status, string result, CancellationToken cancellationToken = default) =>
        ExecuteAsync("UPDATE ledger_turns SET status = @status, result = @result, updated_at = @now WHERE tenant = @tenant AND turn_id = @turn",
            cancellationToken, ("@status", Name(status)), ("@result", result), ("@now", Now), ("@tenant", tenant), ("@turn", turnId));

    /// <summary>Forgets a turn (a failed one, so its idempotency key can be used again).</summary>
    public Task ForgetTurnAsync(string tenant, string turnId, CancellationToken cancellationToken = default) =>
        ExecuteAsync("DELETE FROM ledger_turns WHERE tenant = @tenant AND turn_id = @turn", cancellationToken, ("@tenant", tenant), ("@turn", turnId));

    /// <summary>Asks whichever instance runs the turn to cancel it. Returns false when no running turn has that id.</summary>
    public async Task<bool> RequestCancelAsync(string tenant, string turnId, CancellationToken cancellationToken = default) =>
        await ExecuteAsync("UPDATE ledger_turns SET cancel_requested = 1 WHERE tenant = @tenant AND turn_id = @turn AND status = 'running'",
            cancellationToken, ("@tenant", tenant), ("@turn", turnId)) == 1;

    /// <summary>The turn, or null when the tenant has none with that id.</summary>
    public async Task<TurnRecord?> GetTurnAsync(string tenant, string turnId, CancellationToken cancellationToken = default)
    {
        var rows = await QueryAsync($"SELECT {TurnColumns} FROM ledger_turns WHERE tenant = @tenant AND turn_id = @turn",
            r => ReadTurn(tenant, r), cancellationToken, ("@tenant", tenant), ("@turn", turnId));
        return rows.Count == 1 ? rows[0] : null;
    }

    /// <summary>Erases turn records last changed before <paramref name="before"/>; returns how many.</summary>
    public Task<int> PruneTurnsAsync(DateTimeOffset before, CancellationToken cancellationToken = default) =>
        ExecuteAsync("DELETE FROM ledger_turns WHERE updated_at < @before AND status <> 'running'", cancellationToken, ("@before", before.ToUnixTimeMilliseconds()));

    private async Task<TurnRecord?> FindTurnByKeyAsync(string tenant, string key, CancellationToken cancellationToken)
    {
        var rows = await QueryAsync($"SELECT {TurnColumns} FROM ledger_turns WHERE tenant = @tenant AND idempotency_key = @key",
            r => ReadTurn(tenant, r), cancellationToken, ("@tenant", tenant), ("@key", key));
        return rows.Count == 1 ? rows[0] : null;
    }

    private static string Name(TurnStatus status) => status switch
    {
        TurnStatus.Running => "running",
        TurnStatus.Committed => "committed",
        _ => "failed",
    };

    private static TurnRecord ReadTurn(string tenant, DbDataReader r) => new()
    {
        Key = new ThreadKey(tenant, r.GetString(0), r.GetString(1)),
        TurnId = r.GetString(2),
        IdempotencyKey = StringOrNull(r, 3),
        RequestHash = r.GetString(4),
        Status = r.GetString(5) switch { "running" => TurnStatus.Running, "committed" => TurnStatus.Committed, _ => TurnStatus.Failed },
        StartSequence = r.GetInt64(6),
        UpdatedAt = Time(r.GetInt64(7)),
        Result = StringOrNull(r, 8),
        CancelRequested = r.GetInt32(9) != 0,
    };
}
