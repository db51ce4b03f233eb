using System.Collections.Concurrent;
using System.Text.Json;
using ConversationLedger.Server.Api;
using ConversationLedger.Server.State;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace ConversationLedger.Server.Turns;

/// <summary>What a client asked for when it sent a turn.</summary>
internal sealed record TurnStart(ThreadKey Key, Message Message, TurnOptions Options, bool Wait, bool Streamed, string? IdempotencyKey, string RequestHash);

/// <summary>
/// Runs turns detached from the requests that start them, keeps their events for clients that re-attach, records them for
/// every instance (idempotency keys, re-attach, cancel), and on shutdown lets them finish for a grace period before
/// cancelling the rest (nothing of a cancelled turn is stored).
/// </summary>
internal sealed partial class TurnRunner(
    Ledger ledger, ServiceState state, IOptions<ServerOptions> options, ILogger<TurnRunner> logger, TimeProvider time, IHostApplicationLifetime lifetime)
    : IHostedService
{
    private static readonly TimeSpan RenewEvery = TimeSpan.FromSeconds(2);
    private readonly ConcurrentDictionary<(string Tenant, string Id), RunningTurn> _turns = new();
    private readonly CancellationTokenSource _stopping = new();
    private Task _drained = Task.CompletedTask;
    private volatile bool _refusing;
    private ServerOptions Settings => options.Value;

    /// <summary>The turn with this id running (or recently finished) in this instance, if any.</summary>
    public RunningTurn? Find(string tenant, string turnId) => _turns.GetValueOrDefault((tenant, turnId));

    /// <summary>
    /// Starts a turn, or answers with the turn an idempotency key already names: its outcome when it committed, the running turn
    /// when it runs here. Returns the running turn, or a replayed outcome.
    /// </summary>
    /// <exception cref="IdempotencyException">The key names a different request, or a turn running on another instance.</exception>
    public async Task<(RunningTurn? Turn, TurnOutcome? Replayed)> StartAsync(TurnStart start, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(start);
        if (_refusing)
        {
            throw new ServiceStoppingException();
        }
        var id = Guid.CreateVersion7().ToString("N");
        var recorded = start.Streamed || start.IdempotencyKey is not null;
        if (recorded)
        {
            var head = await ledger.Store.GetHeadAsync(start.Key, cancellationToken);
            var record = new TurnRecord { Key = start.Key, TurnId = id, IdempotencyKey = start.IdempotencyKey, RequestHash = start.RequestHash, StartSequence = head.LastSequence };
            while (await state.TryStartTurnAsync(record, cancellationToken) is { } existing)
            {
                var resolved = await ResolveExistingAsync(existing, record, cancellationToken);
                if (resolved.Answer is { } answer)
                {
                    return answer;
                }
                if (resolved.TookOver)
                {
                    break;
                }
            }
        }
        var turn = new RunningTurn(id, start.Key, recorded, _stopping.Token);
        _turns[(start.Key.Tenant, id)] = turn;
        _ = Task.Run(() => RunAsync(turn, start), CancellationToken.None);
        return (turn, null);
    }

    // An idempotency key that is taken: the same request gets the first one's answer; a stale record (its instance died) is
    // taken over unless the ledger shows that turn committed. Neither an answer nor taken over: the key was freed, try again.
    private async Task<Resolution> ResolveExistingAsync(TurnRecord existing, TurnRecord mine, CancellationToken cancellationToken)
    {
        if (existing.RequestHash != mine.RequestHash)
        {
            throw new IdempotencyException("this idempotency key was used for a different request; use a new key for a new turn");
        }
        switch (existing.Status)
        {
            case TurnStatus.Committed:
                return new Resolution((null, new TurnOutcome(JsonSerializer.Deserialize<TurnResponse>(existing.Result!, ApiJson.Options), null)), false);
            case TurnStatus.Failed:
                // Nothing of a failed turn was stored: the retry may run it.
                await state.ForgetTurnAsync(existing.Key.Tenant, existing.TurnId, cancellationToken);
                return new Resolution(null, false);
        }
        if (Find(existing.Key.Tenant, existing.TurnId) is { } local)
        {
            return new Resolution((local, null), false);
        }
        var staleBefore = time.GetUtcNow() - 5 * RenewEvery;
        if (existing.UpdatedAt >= staleBefore)
        {
            throw new IdempotencyException($"the turn with this idempotency key is still running (turn {existing.TurnId}); re-attach to its events or retry later", existing.TurnId);
        }
        if (await CommittedEntriesAsync(existing, cancellationToken) is { } committed)
        {
            await state.FinishTurnAsync(existing.Key.Tenant, existing.TurnId, TurnStatus.Committed, committed, cancellationToken);
            return new Resolution((null, new TurnOutcome(JsonSerializer.Deserialize<TurnResponse>(committed, ApiJson.Options), null)), false);
        }
        return new Resolution(null, await state.TakeOverTurnAsync(existing, mine, staleBefore, cancellationToken));
    }

    private readonly record struct Resolution((RunningTurn? Turn, TurnOutcome? Replayed)? Answer, bool TookOver);

    // A turn whose instance died may have committed before it could say so: its entries carry its id.
    private async Task<string?> CommittedEntriesAsync(TurnRecord record, CancellationToken cancellationToken)
    {
        var entries = await ledger.Store.ReadEntriesAsync(record.Key, record.StartSequence, 200, cancellationToken);
        var mine = entries.Where(e => e.TurnId == record.TurnId).ToArray();
        if (mine is not [MessageEntry user, MessageEntry reply, UsageEntry usage, ..])
        {
            return null;
        }
        var response = new TurnResponse(record.TurnId, "committed", record.Key.Scope, record.Key.ThreadId, mine[^1].Sequence,
            Representations.Message(user), Representations.Message(reply), reply.Message.Text, usage.Record.StopReason,
            Representations.Usage(usage, "turn"), new ContextResponse(0, 0, false, 0, 0), null);
        return JsonSerializer.Serialize(response, ApiJson.Options);
    }

    private async Task RunAsync(RunningTurn turn, TurnStart start)
    {
        using var renewal = turn.Recorded ? StartRenewal(turn) : null;
        using var deadline = time.CreateTimer(_ => turn.Cancel(TimedOut), null, Settings.TurnTimeout, Timeout.InfiniteTimeSpan);
        TurnOutcome outcome;
        try
        {
            var committed = await StreamAsync(turn, start);
            outcome = new TurnOutcome(Representations.Turn(committed), null);
            turn.Add("turn_committed", JsonSerializer.Serialize(outcome.Response, ApiJson.Options));
            if (turn.Recorded)
            {
                await state.FinishTurnAsync(turn.Key.Tenant, turn.Id, TurnStatus.Committed, JsonSerializer.Serialize(outcome.Response, ApiJson.Options), CancellationToken.None);
            }
        }
        catch (Exception ex)
        {
            var problem = ex is OperationCanceledException && turn.Token.IsCancellationRequested
                ? Cancelled(turn)
                : Problems.From(ex) ?? Unexpected(ex);
            outcome = new TurnOutcome(null, problem);
            turn.Add("error", JsonSerializer.Serialize(problem, ApiJson.Options));
            await TryAsync(() => TouchUncommittedAsync(turn));
            if (turn.Recorded)
            {
                await TryAsync(() => state.FinishTurnAsync(turn.Key.Tenant, turn.Id, TurnStatus.Failed, JsonSerializer.Serialize(problem, ApiJson.Options), CancellationToken.None));
            }
        }
        turn.Finish(outcome);
        if (!turn.Recorded)
        {
            _turns.TryRemove((turn.Key.Tenant, turn.Id), out _); // a JSON turn's answer went to its request: nothing to re-attach to
            return;
        }
        // Kept a while for clients that re-attach; the turn record answers after that.
        _ = Task.Delay(Settings.ReattachWindow, time).ContinueWith(_ => _turns.TryRemove((turn.Key.Tenant, turn.Id), out RunningTurn? _), TaskScheduler.Default);
    }

    private async Task<TurnResult> StreamAsync(RunningTurn turn, TurnStart start)
    {
        turn.Add("turn_started", JsonSerializer.Serialize(new { type = "turn_started", turn_id = turn.Id, scope = start.Key.Scope, thread_id = start.Key.ThreadId }, ApiJson.Options));
        var options = start.Options with { TurnId = turn.Id };
        var waitUntil = time.GetUtcNow() + Settings.MaxWait;
        var conversation = ledger.Open(start.Key);
        while (true)
        {
            try
            {
                (long From, long Through)? summarized = null, lastSummary = null;
                await foreach (var update in conversation.StreamAsync(start.Message, options, turn.Token))
                {
                    switch (update)
                    {
                        case TurnSummarizing s:
                            summarized = lastSummary = (s.FromSequence, s.ThroughSequence);
                            turn.Add("summary_started", Json(new { type = "summary_started", from_sequence = s.FromSequence, through_sequence = s.ThroughSequence }));
                            break;
                        case TurnContextWarning w:
                            EndSummary(turn, ref summarized);
                            turn.Add("context_warning", Json(new
                            {
                                type = "context_warning", fill = Math.Round(w.Request.Fill, 4), estimated_input_tokens = w.Request.EstimatedInputTokens,
                                context_window = w.Request.ContextWindow,
                            }));
                            break;
                        case TurnTextDelta t:
                            EndSummary(turn, ref summarized);
                            turn.Add("content_block_delta", Json(new { type = "content_block_delta", delta = new { type = "text_delta", text = t.Text } }), addedText: t.Text.Length);
                            break;
                        case TurnThinkingDelta h:
                            EndSummary(turn, ref summarized);
                            turn.Add("content_block_delta", Json(new { type = "content_block_delta", delta = new { type = "thinking_delta", thinking = h.Text } }), addedThinking: h.Text.Length);
                            break;
                        case TurnCommitted c:
                            var summary = summarized ?? lastSummary;
                            EndSummary(turn, ref summarized);
                            await TryAsync(() => RecordCallsAsync(c.Turn, summary));
                            return c.Turn;
                    }
                }
                throw new InvalidOperationException("the turn's stream ended without committing");
            }
            catch (ConcurrencyConflictException conflict) when (conflict.TurnInFlight && start.Wait && time.GetUtcNow() < waitUntil)
            {
                // Another turn holds the thread; nothing was sent. Wait and try again, as the request asked.
                await Task.Delay(TimeSpan.FromMilliseconds(100 + Random.Shared.Next(100)), time, turn.Token);
            }
        }
    }

    private static void EndSummary(RunningTurn turn, ref (long From, long Through)? summarized)
    {
        if (summarized is { } s)
        {
            turn.Add("summary_finished", Json(new { type = "summary_finished", from_sequence = s.From, through_sequence = s.Through }));
            summarized = null;
        }
    }

    // The thread's size and cost as of this turn, for listings, and the tenant's usage per day: the turn's call and the calls
    // of a summary written for it (committed just before it, between the summarized messages and the turn's question).
    private async Task RecordCallsAsync(TurnResult turn, (long From, long Through)? summarized)
    {
        var calls = new List<UsageRecord> { turn.UsageEntry.Record };
        if (summarized is { } due && turn.User.Sequence - 1 > due.Through)
        {
            var between = await ledger.Store.ReadEntriesAsync(turn.Key, due.Through, (int)Math.Min(PageRequest.MaxLimit, turn.User.Sequence - 1 - due.Through), CancellationToken.None);
            var pieces = between.OfType<SummaryEntry>().Where(p => p.ThroughSequence >= due.From).Select(p => p.TurnId).ToHashSet();
            calls.AddRange(between.OfType<UsageEntry>().Where(u => pieces.Contains(u.TurnId)).Select(u => u.Record));
        }
        await state.RecordActivityAsync(turn.Head, calls, CancellationToken.None);
    }

    // A call that was billed though its turn failed is in the ledger as an uncommitted usage entry carrying the turn's id:
    // the thread's cost counts it too.
    private async Task TouchUncommittedAsync(RunningTurn turn)
    {
        var head = await ledger.Store.GetHeadAsync(turn.Key, CancellationToken.None);
        var last = head.Exists ? await ledger.Store.ReadEntriesAsync(turn.Key, head.LastSequence - 1, 1, CancellationToken.None) : [];
        if (last is [UsageEntry { Record.Uncommitted: not null } usage] && usage.TurnId == turn.Id)
        {
            await state.RecordActivityAsync(head, [usage.Record], CancellationToken.None);
        }
    }

    private IDisposable StartRenewal(RunningTurn turn)
    {
        var timer = time.CreateTimer(async _ =>
        {
            if (await TryAsync(() => state.RenewTurnAsync(turn.Key.Tenant, turn.Id, CancellationToken.None)))
            {
                turn.Cancel("a client cancelled it");
            }
        }, null, RenewEvery, RenewEvery);
        return timer;
    }

    private async Task TryAsync(Func<Task> action)
    {
        try
        {
            await action();
        }
        catch (Exception ex) when (ex is System.Data.Common.DbException or InvalidOperationException or TimeoutException)
        {
            LogStateFailed(logger, ex.GetType().Name);
        }
    }

    private async Task<bool> TryAsync(Func<Task<bool>> action)
    {
        try
        {
            return await action();
        }
        catch (Exception ex) when (ex is System.Data.Common.DbException or InvalidOperationException or TimeoutException)
        {
            LogStateFailed(logger, ex.GetType().Name);
            return false;
        }
    }

    private const string TimedOut = "timed out";

    private ProblemDetails Cancelled(RunningTurn turn) => turn.CancelReason switch
    {
        null when _stopping.IsCancellationRequested =>
            Problems.Create(503, "shutting-down", "The service is shutting down", "the turn was cancelled before it finished; nothing was stored — send it again"),
        TimedOut => Problems.Create(504, "upstream-timeout", "The model API did not finish in time; nothing was stored",
            $"the turn took longer than Server:TurnTimeout ({Settings.TurnTimeout}) and was cancelled"),
        var reason => Problems.Create(409, "cancelled", "The turn was cancelled", $"{reason ?? "cancelled"}; nothing was stored"),
    };

    private ProblemDetails Unexpected(Exception ex)
    {
        LogTurnFailed(logger, ex);
        return Problems.Create(500, "internal", "The turn failed unexpectedly", "nothing was stored; the service logged the error");
    }

    private static string Json<T>(T value) => JsonSerializer.Serialize(value, ApiJson.Options);

    /// <summary>Starts watching for shutdown: it begins when the host starts stopping, before the server waits for requests.</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStopping.Register(() => _drained = DrainAsync());
        return Task.CompletedTask;
    }

    /// <summary>Waits until the turns in flight have finished or been cancelled.</summary>
    public Task StopAsync(CancellationToken cancellationToken) => _drained.WaitAsync(cancellationToken);

    // Refuses new turns, lets running ones finish within the grace period, then cancels the rest (their clients get a 503
    // problem, nothing of them is stored), so the server's own wait for open requests ends.
    private async Task DrainAsync()
    {
        _refusing = true;
        var running = _turns.Values.Where(t => !t.Outcome.IsCompleted).Select(t => t.Outcome).ToArray();
        LogStopping(logger, running.Length);
        var finished = Task.WhenAll(running);
        await Task.WhenAny(finished, Task.Delay(Settings.ShutdownGrace, time));
        await _stopping.CancelAsync();
        await finished.WaitAsync(TimeSpan.FromSeconds(5), time, CancellationToken.None).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "a turn failed unexpectedly")]
    private static partial void LogTurnFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "the service's turn records could not be updated ({Error})")]
    private static partial void LogStateFailed(ILogger logger, string error);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Information, Message = "stopping: {Count} turn(s) in flight get the grace period to finish")]
    private static partial void LogStopping(ILogger logger, int count);
}

/// <summary>An idempotency key that cannot be honoured as asked (409, or 422 for a different request).</summary>
internal sealed class IdempotencyException(string message, string? runningTurnId = null) : Exception(message)
{
    /// <summary>The turn that holds the key and is still running, if that is the reason.</summary>
    public string? RunningTurnId { get; } = runningTurnId;
}

/// <summary>New turns are refused while the service shuts down (503).</summary>
internal sealed class ServiceStoppingException() : Exception("the service is shutting down; send the turn again (another instance will take it)");
