using System.Diagnostics;

namespace ConversationLedger;

// Committing a turn, and recording billed calls that committed nothing.
public sealed partial class Conversation
{
    private async Task<TurnResult> CommitAsync(PreparedTurn prepared, ModelResponse response, Activity? activity, CancellationToken cancellationToken)
    {
        var reply = response.Message;
        var problems = ConversationValidator.Validate(Turns([.. prepared.Prepared.Request.Messages, reply]), ValidationOptions.StrictHistory);
        if (problems.Count > 0)
        {
            await RecordUncommittedAsync(response, "refused", prepared.TurnId);
            throw new ModelCallException(
                $"the reply (stop_reason {response.StopReason ?? "none"}) cannot be stored: {string.Join("; ", problems)}",
                requestId: response.RequestId);
        }

        var request = prepared.Prepared;
        _ledger.Calibration.Observe(request.Request.Model, request.Parts.Total, response.Usage.TotalInputTokens);
        var head = prepared.View.Head;
        var turnId = prepared.TurnId ?? Guid.CreateVersion7().ToString("N");
        var record = new UsageRecord(response.Model, response.Usage, _ledger.Models.Cost(response.Model, response.Usage), response.RequestId, response.StopReason);
        var entries = new List<LedgerEntry>
        {
            new MessageEntry(prepared.User) { TurnId = turnId, Tokens = prepared.UserTokens },
            new MessageEntry(reply) { TurnId = turnId, Tokens = _ledger.TokenCounter.CountTokens(reply) },
            new UsageEntry(record) { TurnId = turnId },
        };
        if (ShouldPin(prepared.View))
        {
            // The append is atomic at the expected sequence, so the turn's messages land right after the head.
            entries.Add(new PinEntry(head.LastSequence + 1, true) { TurnId = turnId });
            entries.Add(new PinEntry(head.LastSequence + 2, true) { TurnId = turnId });
        }
        // A retry withdraws the turn it replaces in the same append: both happen, or neither.
        entries.AddRange(Retractions(prepared.Withdrawn, turnId));
        AppendResult stored;
        try
        {
            stored = await AppendAsync(head.LastSequence, entries, cancellationToken, prepared.Lease);
        }
        catch (ConcurrencyConflictException)
        {
            // The call was made and billed; the turn lost. Its usage is recorded on top of the winner's history.
            await RecordUncommittedAsync(response, "conflict", prepared.TurnId);
            throw;
        }
        var result = new TurnResult
        {
            Key = Key,
            TurnId = turnId,
            User = (MessageEntry)stored.Entries[0],
            Reply = (MessageEntry)stored.Entries[1],
            UsageEntry = (UsageEntry)stored.Entries[2],
            Head = stored.Head,
            Request = request,
            ContextWarning = request.Fill >= Options.WarnAtFill,
            SummaryError = prepared.SummaryError,
        };
        _ledger.Telemetry.TurnCommitted(activity, result, prepared.View, Stopwatch.GetElapsedTime(prepared.Started));
        return result;
    }

    private Task RecordUncommittedAsync(ModelResponse response, string why, string? turnId = null) =>
        RecordUncommittedAsync(response.Model, response.Usage, response.RequestId, response.StopReason, why, turnId);

    // A billed call that is part of no committed turn or summary still goes into the usage log, as a usage entry of its own
    // on top of whatever the thread holds now (marked with why). Best effort, on a token of its own (the turn's may be
    // cancelled): a store that fails here must not hide the error that brought us here. It carries the turn's id when the
    // caller chose one, so the caller can find what its failed turn cost.
    private async Task RecordUncommittedAsync(string model, TokenUsage usage, string? requestId, string? stopReason, string why, string? turnId = null)
    {
        var record = new UsageRecord(model, usage, _ledger.Models.Cost(model, usage), requestId, stopReason) { Uncommitted = why };
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        for (var attempt = 0; attempt < 3; attempt++)
        {
            try
            {
                var head = await Store.GetHeadAsync(Key, timeout.Token);
                await Store.AppendAsync(Key, head.LastSequence, [new UsageEntry(record) { TurnId = turnId ?? Guid.CreateVersion7().ToString("N") }], timeout.Token);
                return;
            }
            catch (ConcurrencyConflictException)
            {
                // Another writer again: read the new head and try once more.
            }
#pragma warning disable CA1031 // whatever the store throws, the caller's own error is the one to report
            catch (Exception ex)
#pragma warning restore CA1031
            {
                _ledger.Telemetry.UsageNotRecorded(Key, ex);
                return;
            }
        }
    }

    // Every append of a turn or summary: timed, and a lost race counted and logged before it reaches the caller. A turn's
    // commit ends its lease in the same write where the store can (one transaction less per turn).
    private async Task<AppendResult> AppendAsync(long expected, IReadOnlyList<LedgerEntry> entries, CancellationToken cancellationToken, TurnLease? ending = null)
    {
        try
        {
            return await _ledger.Telemetry.StoreAsync("append", () => ending is null
                ? Store.AppendAsync(Key, expected, entries, cancellationToken)
                : ending.AppendAsync(holder => Store.AppendAndReleaseTurnLeaseAsync(Key, expected, entries, holder, cancellationToken)));
        }
        catch (ConcurrencyConflictException conflict)
        {
            _ledger.Telemetry.Conflict(conflict);
            throw;
        }
    }

    // The first exchange is pinned (if so configured), and so is a turn that answers a pinned tool call, however it was
    // pinned (a pinned turn must stay whole: a pinned loop missing its end is never sent).
    private bool ShouldPin(ConversationView view)
    {
        if (view.MessageCount - view.RetractedOrdinals.Count == 0)
        {
            // The first exchange (or the first after every earlier one was withdrawn).
            return Options.PinFirstExchange;
        }
        return view.Messages.Count > 0 && view.Messages[^1] is { Pinned: true } last
            && last.Message.CallsTools;
    }
}
