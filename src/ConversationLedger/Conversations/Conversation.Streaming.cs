using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace ConversationLedger;

// Streamed turns, retries and turns whose model call the caller makes.
public sealed partial class Conversation
{
    /// <summary>
    /// Sends a user message and streams the reply: a note when older history is being summarized first, a context
    /// warning when the window is nearly full, then
    /// text and thinking deltas as they arrive, then <see cref="TurnCommitted"/> once the turn is stored. If the
    /// stream breaks or the caller stops enumerating, nothing of the turn is stored.
    /// </summary>
    /// <remarks>
    /// The turn holds the thread's turn lease as <see cref="SendAsync(Message, TurnOptions?, CancellationToken)"/> does, renewed
    /// while the reply streams: with <see cref="ConflictHandling.Throw"/> the first <c>MoveNextAsync</c> throws
    /// <see cref="ConcurrencyConflictException"/> before any model call when another turn is in flight; with
    /// <see cref="ConflictHandling.WaitAndRetry"/> it waits for the lease. A stream is never sent twice (its deltas have been
    /// shown). A summary that was due is committed, with its usage, before the turn's call and stays when the turn then fails.
    /// </remarks>
    public IAsyncEnumerable<TurnUpdate> StreamAsync(Message userMessage, CancellationToken cancellationToken = default) =>
        StreamAsync(userMessage, null, cancellationToken);

    /// <summary>Sends a user message with per-turn settings and streams the reply (see <see cref="StreamAsync(Message, CancellationToken)"/>).</summary>
    /// <exception cref="ArgumentException">An override in <paramref name="options"/> is invalid; nothing was sent.</exception>
    public IAsyncEnumerable<TurnUpdate> StreamAsync(Message userMessage, TurnOptions? options, CancellationToken cancellationToken = default)
    {
        CheckUserMessage(userMessage);
        // Checked now, not at the first MoveNextAsync: a bad setting is the caller's mistake, reported where it was made.
        return StreamCoreAsync(userMessage, Defaults.With(options), cancellationToken);
    }

    /// <summary>
    /// Regenerates the newest reply: the newest turn's question is sent again on the history before it (as the policy
    /// selects it now) and streamed as <see cref="StreamAsync(Message, TurnOptions?, CancellationToken)"/> streams a turn.
    /// When the new reply is committed, the newest turn is withdrawn in the same append (a retraction per message, see
    /// <see cref="EditEntry.Retracted"/>) and the question and new reply follow it: nothing is overwritten, the earlier
    /// reply stays in the ledger, and a retry that fails or is cancelled leaves the thread as it was.
    /// </summary>
    /// <exception cref="LedgerException">There is no turn since the newest reset, or the newest turn is already summarized (thrown by the first <c>MoveNextAsync</c>).</exception>
    /// <exception cref="ArgumentException">An override in <paramref name="options"/> is invalid; nothing was sent.</exception>
    public IAsyncEnumerable<TurnUpdate> StreamRetryAsync(TurnOptions? options = null, CancellationToken cancellationToken = default) =>
        StreamCoreAsync(null, Defaults.With(options), cancellationToken);

    private async IAsyncEnumerable<TurnUpdate> StreamCoreAsync(Message? newMessage, TurnSettings settings, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // With WaitAndRetry a stream queues behind this process's other turns on the thread, as SendAsync does.
        // It is not sent again after a conflict with another process: its deltas have already been shown. The gate is
        // left when the enumeration ends, however it ends.
        var waits = Options.OnConflict == ConflictHandling.WaitAndRetry;
        using var turn = waits ? await _ledger.EnterAsync(Key, cancellationToken) : null;
        await using var lease = waits ? await TakeLeaseAsync(settings, renew: true, cancellationToken) : await TryTakeLeaseAsync(settings, renew: true, cancellationToken);
        var started = Stopwatch.GetTimestamp();
        using var activity = _ledger.Telemetry.StartTurn(Key, settings.Model);
        var (view, selection) = await SelectAsync(settings.Policy, [], cancellationToken, lease);
        IReadOnlyList<LedgerMessage> withdrawn = [];
        if (newMessage is null)
        {
            // A retry: the newest turn's question, on the history without that turn.
            (_, withdrawn) = await LastTurnAsync(view, cancellationToken);
            (view, selection) = await SelectAsync(settings.Policy, withdrawn, cancellationToken);
        }
        var userMessage = newMessage ?? withdrawn[0].Message;
        string? summaryError = null;
        if (selection.SummaryDue is { } due)
        {
            // Summarizing is a model call of its own: say so before the wait.
            yield return new TurnSummarizing(due.FromSequence, due.ThroughSequence);
            (view, selection, summaryError) = await FoldSummaryAsync(view, selection, due, settings, withdrawn, cancellationToken);
        }
        var prepared = Finish(view, selection, userMessage, summaryError, settings) with { Started = started, Withdrawn = withdrawn, Lease = lease };
        if (prepared.Prepared.Fill >= Options.WarnAtFill)
        {
            yield return new TurnContextWarning(prepared.Prepared);
        }
        ModelResponse? response = null;
        StreamStarted? billed = null;
        var logged = false;
        var stream = _ledger.Model.StreamAsync(prepared.Prepared.Request, cancellationToken).GetAsyncEnumerator(cancellationToken);
        try
        {
            while (true)
            {
                ModelStreamEvent update;
                try
                {
                    if (!await stream.MoveNextAsync())
                    {
                        break;
                    }
                    update = stream.Current;
                }
                catch (Exception ex) when (billed is not null && response is null)
                {
                    // The call started (and is billed): a stream cut short still goes into the usage log.
                    logged = true;
                    await RecordUncommittedAsync(billed.Model, billed.Usage, billed.RequestId, null,
                        ex is OperationCanceledException ? "cancelled" : "interrupted", prepared.TurnId);
                    throw;
                }
                switch (update)
                {
                    case StreamStarted callStarted:
                        billed = callStarted;
                        break;
                    case TextDelta text:
                        yield return new TurnTextDelta(text.Text);
                        break;
                    case ThinkingDelta thinking:
                        yield return new TurnThinkingDelta(thinking.Text);
                        break;
                    case StreamCompleted done:
                        response = done.Response;
                        break;
                }
            }
        }
        finally
        {
            await stream.DisposeAsync();
            if (billed is not null && response is null && !logged)
            {
                // The caller stopped enumerating mid-reply (or was cancelled while it handled a delta, outside our await):
                // the call was billed all the same.
                await RecordUncommittedAsync(billed.Model, billed.Usage, billed.RequestId, null, "cancelled", prepared.TurnId);
            }
        }
        if (response is null)
        {
            throw new ModelCallException("the stream ended without a complete message");
        }
        yield return new TurnCommitted(await CommitAsync(prepared, response, activity, cancellationToken));
    }

    /// <summary>
    /// Prepares a turn whose model call the caller makes: the policy's window is read (a summary that is due is written
    /// first), the request is built, fitted and checked exactly as <see cref="SendAsync(Message, TurnOptions?, CancellationToken)"/>
    /// would send it, and nothing is stored until <see cref="PendingTurn.CommitAsync"/> is given the reply. For adapters that
    /// call the model through another client (an <c>IChatClient</c> pipeline, say). A pending turn that is never committed
    /// leaves the ledger as it was; one committed after another writer's turn fails with <see cref="ConcurrencyConflictException"/>.
    /// The pending turn holds the thread's turn lease as <see cref="SendAsync(Message, TurnOptions?, CancellationToken)"/> does
    /// (refused or waited for before anything is read, by <see cref="LedgerOptions.OnConflict"/>) until it is committed or
    /// disposed; as its end is up to the caller, the lease is not renewed and expires after <see cref="LedgerOptions.TurnLease"/>
    /// if the caller forgets it. A summary that was due is committed, with its usage, by this call.
    /// </summary>
    /// <exception cref="ConcurrencyConflictException">With <see cref="ConflictHandling.Throw"/>: another turn is in flight on the thread (<see cref="ConcurrencyConflictException.TurnInFlight"/>).</exception>
    /// <exception cref="ArgumentException">An override in <paramref name="options"/> is invalid.</exception>
    /// <exception cref="LedgerValidationException">The request would break the API's rules.</exception>
    /// <exception cref="ContextBudgetExceededException">The request cannot be made to fit the context window.</exception>
    public async Task<PendingTurn> BeginTurnAsync(Message userMessage, TurnOptions? options = null, CancellationToken cancellationToken = default)
    {
        CheckUserMessage(userMessage);
        var settings = Defaults.With(options);
        var lease = Options.OnConflict == ConflictHandling.WaitAndRetry
            ? await TakeLeaseAsync(settings, renew: false, cancellationToken)
            : await TryTakeLeaseAsync(settings, renew: false, cancellationToken);
        try
        {
            var started = (Stopwatch.GetTimestamp(), DateTimeOffset.UtcNow);
            var prepared = await PrepareAsync(userMessage, summarize: true, settings, cancellationToken, lease) with { Started = started.Item1, Lease = lease };
            return new PendingTurn(prepared.Prepared, async (response, ct) =>
            {
                // The model call was made by the caller: the span covers it, from the turn's start to its commit.
                using var activity = _ledger.Telemetry.StartTurn(Key, prepared.Prepared.Request.Model, started.Item2);
                return await CommitAsync(prepared, response, activity, ct);
            }, lease);
        }
        catch
        {
            await lease.DisposeAsync();
            throw;
        }
    }

    /// <summary>Streams the reply to a text message.</summary>
    public IAsyncEnumerable<TurnUpdate> StreamAsync(string text, CancellationToken cancellationToken = default) =>
        StreamAsync(Message.User(text), cancellationToken);
}
