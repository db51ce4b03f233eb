using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace ConversationLedger;

/// <summary>
/// One thread's conversation loop: what the guide's <c>chat()</c> does, done so that the ledger stays valid.
/// Each request carries what the history policy picks (within the token budget, with cache breakpoints);
/// a turn is committed atomically after the model answered — the user message, the reply and the usage record
/// together — so a failed or cancelled call leaves the ledger exactly as it was. Safe to use concurrently, also from
/// several processes: a turn holds the thread's turn lease in the store from before it reads the history until it
/// commits, so a second turn is refused with <see cref="ConcurrencyConflictException"/> before it calls the model (or waits
/// for the lease, if configured); the expected sequence at commit stays the final guard.
/// </summary>
public sealed class Conversation
{
    private readonly Ledger _ledger;

    internal Conversation(Ledger ledger, ThreadKey key)
    {
        _ledger = ledger;
        Key = key;
    }

    /// <summary>The thread.</summary>
    public ThreadKey Key { get; }

    private LedgerOptions Options => _ledger.Options;

    private TurnSettings Defaults => _ledger.Defaults;

    private IConversationStore Store => _ledger.Store;

    /// <summary>Reads the current conversation (the whole of it since the newest reset) and checks it.</summary>
    /// <exception cref="LedgerValidationException">The stored conversation breaks strict alternation (a damaged or hand-edited store).</exception>
    public async Task<ConversationView> LoadAsync(CancellationToken cancellationToken = default)
    {
        var view = ConversationView.Project(await Store.ReadWindowAsync(Key, WindowSpec.All, cancellationToken));
        ConversationValidator.ThrowIfInvalid(view.AsMessages(), ValidationOptions.StrictHistory);
        return view;
    }

    /// <summary>
    /// The request the next turn would send for <paramref name="next"/>, without sending it or writing anything:
    /// its JSON, tokens per part, cache breakpoints, omissions and estimated cost.
    /// </summary>
    /// <exception cref="ContextBudgetExceededException">The request cannot be made to fit.</exception>
    public Task<PreparedRequest> PreviewAsync(Message next, CancellationToken cancellationToken = default) =>
        PreviewAsync(next, null, cancellationToken);

    /// <summary>The request the next turn would send for <paramref name="next"/> with <paramref name="options"/>, without sending it or writing anything.</summary>
    /// <exception cref="ContextBudgetExceededException">The request cannot be made to fit.</exception>
    /// <exception cref="ArgumentException">An override in <paramref name="options"/> is invalid.</exception>
    public async Task<PreparedRequest> PreviewAsync(Message next, TurnOptions? options, CancellationToken cancellationToken = default)
    {
        CheckUserMessage(next);
        return (await PrepareAsync(next, summarize: false, Defaults.With(options), cancellationToken)).Prepared;
    }

    /// <summary>
    /// The exact prompt tokens of the request the next turn would send, from the model's count_tokens endpoint
    /// (a network call, nothing stored). The answer also calibrates the local estimate for this model.
    /// </summary>
    public async Task<long> CountTokensAsync(Message next, CancellationToken cancellationToken = default)
    {
        CheckUserMessage(next);
        var prepared = (await PrepareAsync(next, summarize: false, Defaults, cancellationToken)).Prepared;
        var exact = await _ledger.Model.CountTokensAsync(prepared.Request, cancellationToken);
        _ledger.Calibration.Observe(prepared.Request.Model, prepared.Parts.Total, exact);
        return exact;
    }

    /// <summary>Sends a user message and commits the turn (see <see cref="SendAsync(Message, TurnOptions?, CancellationToken)"/>).</summary>
    public Task<TurnResult> SendAsync(string text, CancellationToken cancellationToken = default) =>
        SendAsync(Message.User(text), cancellationToken);

    /// <summary>Sends a user message (text, images, tool results …) and commits the turn (see <see cref="SendAsync(Message, TurnOptions?, CancellationToken)"/>).</summary>
    /// <exception cref="LedgerValidationException">The request would break the API's rules; nothing was sent.</exception>
    /// <exception cref="ContextBudgetExceededException">The request cannot be made to fit the context window; nothing was sent.</exception>
    /// <exception cref="ModelCallException">The model call failed; nothing of the turn was stored (a summary written for it stays).</exception>
    /// <exception cref="ConcurrencyConflictException">Another turn was in flight or another writer committed first; nothing of the turn was stored.</exception>
    public Task<TurnResult> SendAsync(Message userMessage, CancellationToken cancellationToken = default) =>
        SendAsync(userMessage, null, cancellationToken);

    /// <summary>Sends a user message with per-turn settings and commits the turn.</summary>
    /// <remarks>
    /// <para>
    /// The turn first takes the thread's turn lease in the store (<see cref="LedgerOptions.TurnLease"/>). With
    /// <see cref="ConflictHandling.Throw"/>, a turn that finds another turn holding it is refused at once, before any model
    /// call; with <see cref="ConflictHandling.WaitAndRetry"/> it waits for the lease (as long as
    /// <paramref name="cancellationToken"/> allows) and then reads the new history. The commit still checks the expected
    /// sequence, so a turn overtaken by a writer that took no lease (or after its lease expired) is refused or sent again.
    /// </para>
    /// <para>
    /// When the history policy has a summary due, the summary is a model call of its own, made and committed (the summary
    /// entry and its usage entry) before the turn's call. It is not undone when the turn then fails or is cancelled: it was
    /// paid for and is valid history, and the next turn reuses it instead of paying for it again. So a failed turn can leave
    /// exactly those two entries, and nothing of the turn itself (no user message, reply or turn usage).
    /// </para>
    /// </remarks>
    /// <param name="userMessage">The user message (text, images, tool results …).</param>
    /// <param name="options">Overrides of the ledger's settings for this turn (null: none).</param>
    /// <param name="cancellationToken">Cancels the turn (and a wait for the lease); nothing of the turn is stored then.</param>
    /// <exception cref="ArgumentException">An override in <paramref name="options"/> is invalid; nothing was sent.</exception>
    /// <exception cref="LedgerValidationException">The request would break the API's rules; nothing was sent.</exception>
    /// <exception cref="ContextBudgetExceededException">The request cannot be made to fit the context window; nothing was sent.</exception>
    /// <exception cref="ModelCallException">The model call failed; nothing of the turn was stored (a summary written for it stays, see remarks).</exception>
    /// <exception cref="ConcurrencyConflictException">
    /// Another turn held the thread's lease (<see cref="ConcurrencyConflictException.TurnInFlight"/>: nothing was sent), or
    /// another writer committed first; nothing of the turn was stored.
    /// </exception>
    public async Task<TurnResult> SendAsync(Message userMessage, TurnOptions? options, CancellationToken cancellationToken = default)
    {
        CheckUserMessage(userMessage);
        var settings = Defaults.With(options);
        if (Options.OnConflict == ConflictHandling.Throw)
        {
            await using var lease = await TurnLease.TryTakeAsync(Store, Key, Options.TurnLease, cancellationToken)
                ?? throw ConcurrencyConflictException.ForTurnInFlight(Key);
            return await SendOnceAsync(userMessage, settings, cancellationToken);
        }

        // This process's turns queue on a local gate, so only one of them at a time waits for the store's lease.
        using var turn = await _ledger.EnterAsync(Key, cancellationToken);
        await using var held = await TurnLease.TakeAsync(Store, Key, Options.TurnLease, cancellationToken);
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return await SendOnceAsync(userMessage, settings, cancellationToken);
            }
            catch (ConcurrencyConflictException) when (attempt < Options.MaxConflictRetries)
            {
                // Another process won; the next attempt reads its turn and sends on top of it.
                _ledger.Telemetry.Retry(Key, attempt + 1);
            }
        }
    }

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

    /// <summary>
    /// Withdraws the newest turn (its question, its reply and, in a tool loop, every call and result of it): a retraction
    /// per message, appended as one ledger event. The messages stay in the ledger (<c>ledger show --all</c>); the next
    /// request is sent without them. Takes no turn lease, as pins and edits do not; the append's expected sequence guards it.
    /// </summary>
    /// <returns>The messages withdrawn, oldest first.</returns>
    /// <exception cref="LedgerException">There is no turn since the newest reset, or the newest turn is already summarized.</exception>
    /// <exception cref="ConcurrencyConflictException">Another writer appended meanwhile; nothing was stored.</exception>
    public async Task<IReadOnlyList<LedgerMessage>> UndoAsync(CancellationToken cancellationToken = default)
    {
        var view = await ReadPolicyWindowAsync(new WindowSpec { LastMessages = LastTurnRead }, cancellationToken);
        var (head, turn) = await LastTurnAsync(view, cancellationToken);
        await AppendAsync(head.LastSequence, [.. Retractions(turn, null)], cancellationToken);
        return turn;
    }

    // How many of the newest messages are read to find the newest turn; a longer tool loop reads the whole conversation.
    private const int LastTurnRead = 64;

    // The newest turn: the newest unit when it is whole among the rows read (else the whole conversation is read).
    private async Task<(ThreadHead Head, IReadOnlyList<LedgerMessage> Turn)> LastTurnAsync(ConversationView view, CancellationToken cancellationToken)
    {
        if (view.Units.Newest is null && view.Messages.Count > 0)
        {
            view = await LoadAsync(cancellationToken);
        }
        var newest = view.Units.Newest ?? throw new LedgerException($"thread {Key} has no turn since its last reset to take back");
        var turn = view.Messages.Skip(newest.Start).ToArray();
        if (view.Summary is { } summary && summary.ThroughSequence >= turn[0].Sequence)
        {
            throw new LedgerException($"the newest turn of thread {Key} is part of its summary and can no longer be taken back");
        }
        return (view.Head, turn);
    }

    private static IEnumerable<LedgerEntry> Retractions(IEnumerable<LedgerMessage> turn, string? turnId) =>
        turn.Select(m => new EditEntry(m.Sequence, m.Message) { Retracted = true, ReplacementTokens = 0, TurnId = turnId });

    private async IAsyncEnumerable<TurnUpdate> StreamCoreAsync(Message? newMessage, TurnSettings settings, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // With WaitAndRetry a stream queues behind this process's other turns on the thread, as SendAsync does.
        // It is not sent again after a conflict with another process: its deltas have already been shown. The gate is
        // left when the enumeration ends, however it ends.
        var waits = Options.OnConflict == ConflictHandling.WaitAndRetry;
        using var turn = waits ? await _ledger.EnterAsync(Key, cancellationToken) : null;
        await using var lease = waits
            ? await TurnLease.TakeAsync(Store, Key, Options.TurnLease, cancellationToken)
            : await TurnLease.TryTakeAsync(Store, Key, Options.TurnLease, cancellationToken) ?? throw ConcurrencyConflictException.ForTurnInFlight(Key);
        var started = Stopwatch.GetTimestamp();
        using var activity = _ledger.Telemetry.StartTurn(Key, settings.Model);
        var (view, selection) = await SelectAsync(settings.Policy, [], cancellationToken);
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
        var prepared = Finish(view, selection, userMessage, summaryError, settings) with { Started = started, Withdrawn = withdrawn };
        if (prepared.Prepared.Fill >= Options.WarnAtFill)
        {
            yield return new TurnContextWarning(prepared.Prepared);
        }
        ModelResponse? response = null;
        StreamStarted? billed = null;
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
            ? await TurnLease.TakeAsync(Store, Key, Options.TurnLease, cancellationToken, renew: false)
            : await TurnLease.TryTakeAsync(Store, Key, Options.TurnLease, cancellationToken, renew: false) ?? throw ConcurrencyConflictException.ForTurnInFlight(Key);
        try
        {
            var started = (Stopwatch.GetTimestamp(), DateTimeOffset.UtcNow);
            var prepared = await PrepareAsync(userMessage, summarize: true, settings, cancellationToken) with { Started = started.Item1 };
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

    /// <summary>
    /// Sets or changes the system prompt. Recorded as a ledger event with the turn it takes effect at; an
    /// unchanged prompt records nothing. An empty text clears it.
    /// </summary>
    /// <exception cref="LedgerException">Thinking is on and the thread is in an open tool loop (the change would invalidate the loop's thinking).</exception>
    public async Task SetSystemPromptAsync(string text, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        var view = ConversationView.Project(await Store.ReadWindowAsync(Key, new WindowSpec { LastMessages = 1 }, cancellationToken));
        if ((view.SystemPrompt ?? "") == text)
        {
            return;
        }
        ThrowIfThinkingLoopOpen(view, "the system prompt");
        var nextTurn = view.Head.RunningMessages / 2 + 1;
        var entry = new SystemPromptEntry(text, nextTurn) { Previous = view.SystemPrompt ?? "" };
        await Store.AppendAsync(Key, view.Head.LastSequence, [entry], cancellationToken);
    }

    /// <summary>Pins a message (and the rest of its turn) so that windowed policies always send it.</summary>
    /// <exception cref="LedgerNotFoundException">There is no message at that sequence since the newest reset.</exception>
    /// <exception cref="LedgerException">Thinking is on and the thread is in an open tool loop (the change would invalidate the loop's thinking).</exception>
    public Task PinAsync(long sequence, CancellationToken cancellationToken = default) => SetPinAsync(sequence, true, cancellationToken);

    /// <summary>Unpins a message (and the rest of its turn).</summary>
    /// <exception cref="LedgerNotFoundException">There is no message at that sequence since the newest reset.</exception>
    /// <exception cref="LedgerException">Thinking is on and the thread is in an open tool loop (the change would invalidate the loop's thinking).</exception>
    public Task UnpinAsync(long sequence, CancellationToken cancellationToken = default) => SetPinAsync(sequence, false, cancellationToken);

    /// <summary>Starts afresh: later requests carry nothing from before; the archive stays readable.</summary>
    public async Task ResetAsync(string? reason = null, CancellationToken cancellationToken = default)
    {
        var head = await Store.GetHeadAsync(Key, cancellationToken);
        await Store.AppendAsync(Key, head.LastSequence, [new ResetEntry(reason)], cancellationToken);
    }

    /// <summary>
    /// Replaces a message with a new version (the original stays in the ledger). The conversation with the edit
    /// applied must still be valid; otherwise nothing is stored.
    /// </summary>
    /// <exception cref="LedgerNotFoundException">There is no message at that sequence since the newest reset.</exception>
    /// <exception cref="LedgerValidationException">The edited conversation would be invalid.</exception>
    /// <exception cref="LedgerException">Thinking is on and the thread is in an open tool loop (the change would invalidate the loop's thinking).</exception>
    public async Task EditAsync(long sequence, Message replacement, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(replacement);
        var view = await LoadAsync(cancellationToken);
        var index = IndexOf(view, sequence);
        ThrowIfThinkingLoopOpen(view, "an earlier message");
        var edited = view.AsMessages().ToArray();
        edited[index] = replacement;
        ConversationValidator.ThrowIfInvalid(edited, ValidationOptions.StrictHistory);
        var edit = new EditEntry(sequence, replacement) { ReplacementTokens = _ledger.TokenCounter.CountTokens(replacement) };
        await Store.AppendAsync(Key, view.Head.LastSequence, [edit], cancellationToken);
    }

    /// <summary>Forks this thread into <paramref name="target"/> after entry <paramref name="atSequence"/> (default: the newest).</summary>
    /// <exception cref="LedgerNotFoundException">This thread or the entry does not exist.</exception>
    /// <exception cref="LedgerException">The entry is a question whose reply comes after it.</exception>
    /// <exception cref="ConcurrencyConflictException">The target thread already exists.</exception>
    public async Task<Conversation> ForkAsync(ThreadKey target, long? atSequence = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(target);
        var at = atSequence ?? (await Store.GetHeadAsync(Key, cancellationToken)).LastSequence;
        await CheckForkPointAsync(at, cancellationToken);
        await Store.ForkAsync(Key, at, target, cancellationToken);
        return _ledger.Open(target);
    }

    // A turn is stored whole: question, reply, usage. A fork right after a question would end with it, and every turn
    // sent on the fork would then put two user messages in a row, so the fork could never be continued.
    private async Task CheckForkPointAsync(long at, CancellationToken cancellationToken)
    {
        if (at < 1)
        {
            return; // the store reports a missing entry
        }
        var entry = await Store.ReadEntriesAsync(Key, at - 1, 1, cancellationToken);
        if (entry is [MessageEntry { Message.Role: var role }] && role == Role.User)
        {
            throw new LedgerException(
                $"entry {at} of thread {Key} is a user message whose reply comes after it; a fork there could never be continued; fork before it, or at its reply (entry {at + 1}) or later");
        }
    }

    private async Task<TurnResult> SendOnceAsync(Message userMessage, TurnSettings settings, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        using var activity = _ledger.Telemetry.StartTurn(Key, settings.Model);
        try
        {
            var prepared = await PrepareAsync(userMessage, summarize: true, settings, cancellationToken) with { Started = started };
            var response = await _ledger.Model.SendAsync(prepared.Prepared.Request, cancellationToken);
            return await CommitAsync(prepared, response, activity, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            _ledger.Telemetry.TurnFailed(activity, Key, settings.Model, ex, Stopwatch.GetElapsedTime(started));
            throw;
        }
    }

    private async Task<ConversationView> ReadPolicyWindowAsync(WindowSpec window, CancellationToken cancellationToken) =>
        ConversationView.Project(await _ledger.Telemetry.StoreAsync("read_window", () => Store.ReadWindowAsync(Key, window, cancellationToken)));

    private async Task<PreparedTurn> PrepareAsync(Message userMessage, bool summarize, TurnSettings settings, CancellationToken cancellationToken)
    {
        var (view, selection) = await SelectAsync(settings.Policy, [], cancellationToken);
        string? summaryError = null;
        if (summarize && selection.SummaryDue is { } due)
        {
            (view, selection, summaryError) = await FoldSummaryAsync(view, selection, due, settings, [], cancellationToken);
        }
        return Finish(view, selection, userMessage, summaryError, settings);
    }

    // Reads what the policy plans and lets it select; messages a retry is about to withdraw are left out as if withdrawn.
    private async Task<(ConversationView View, HistorySelection Selection)> SelectAsync(IHistoryPolicy policy, IReadOnlyList<LedgerMessage> withdrawn,
        CancellationToken cancellationToken)
    {
        var planned = await HistoryPlanner.SelectAsync(policy, async (spec, ct) =>
        {
            var view = await ReadPolicyWindowAsync(spec, ct);
            return withdrawn.Count == 0 ? view : view.Without(withdrawn);
        }, cancellationToken);
        return (planned.View, planned.Selection);
    }

    // Has the model summarize what left the window, stores it, and selects again. A failed summary stores nothing more
    // (pieces written before the failure stay) and the turn goes ahead with what there is; the thread's next attempts
    // back off (1, 2, 4 … 32 turns of this process), so a summary that keeps failing is not paid for on every turn.
    private async Task<(ConversationView View, HistorySelection Selection, string? Error)> FoldSummaryAsync(
        ConversationView view, HistorySelection selection, (long FromSequence, long ThroughSequence) due, TurnSettings settings,
        IReadOnlyList<LedgerMessage> withdrawn, CancellationToken cancellationToken)
    {
        if (!_ledger.SummaryBackoff.ShouldTry(Key))
        {
            return (view, selection, null);
        }
        try
        {
            var wrote = await SummarizeAsync(view, due.FromSequence, due.ThroughSequence, settings.Model, cancellationToken);
            _ledger.SummaryBackoff.Succeeded(Key);
            if (wrote)
            {
                var (newView, newSelection) = await SelectAsync(settings.Policy, withdrawn, cancellationToken);
                return (newView, newSelection, null);
            }
            return (view, selection, null);
        }
        catch (LedgerException ex) when (ex is ModelCallException or ConcurrencyConflictException)
        {
            var skipped = _ledger.SummaryBackoff.Failed(Key);
            _ledger.Telemetry.SummaryFailed(Key, ex);
            var (newView, newSelection) = await SelectAsync(settings.Policy, withdrawn, cancellationToken); // pieces stored before the failure count
            return (newView, newSelection, $"{ex.Message} (the next {skipped} turn{(skipped == 1 ? "" : "s")} will not try again)");
        }
    }

    private PreparedTurn Finish(ConversationView view, HistorySelection selection, Message userMessage, string? summaryError, TurnSettings settings)
    {
        var userTokens = _ledger.TokenCounter.CountTokens(userMessage);
        var prepared = _ledger.Requests.Build(view, selection, userMessage, userTokens, settings);
        // The ledger keeps strict alternation; system messages are the model's instructions between turns, not turns.
        ConversationValidator.ThrowIfInvalid(Turns(prepared.Request.Messages), ValidationOptions.StrictRequest);
        if (ModelRules.Check(_ledger.Models.Get(prepared.Request.Model), prepared.Request) is { } refusal)
        {
            throw new LedgerValidationException([refusal]);
        }
        return new PreparedTurn(view, userMessage, userTokens, prepared, summaryError) { TurnId = settings.TurnId };
    }

    // Writes the summary of entries from..through in pieces that each fit the summary model (at most SummaryPieceTokens
    // of dropped messages, with the running summary and instructions), folding each piece into the running summary and
    // storing it at once: a backlog of any length (an imported thread) is summarized without a request over the window,
    // and a failure keeps the pieces already paid for.
    private async Task<bool> SummarizeAsync(ConversationView view, long from, long through, string turnModel, CancellationToken cancellationToken)
    {
        var model = Options.SummaryModel ?? turnModel;
        var info = _ledger.Models.Get(model);
        var window = info.ContextWindow;
        // A summary needs no deliberation: thinking off where the model allows it (up-front thinking otherwise), least effort.
        var (thinking, outputConfig) = ThinkingOptions.ForModel(
            info.TakesThinking("disabled") ? ThinkingOptions.Off : info.TakesThinking("between_tools") ? new ThinkingOptions { Mode = ThinkingMode.BetweenTools } : null,
            info.EffortLevels.Contains("low") ? "low" : null, info, Options.SummaryMaxTokens);
        var budget = Math.Min(SummaryPieceTokens, (long)((window - Options.SummaryMaxTokens - Options.SafetyMarginTokens) / _ledger.Calibration.FactorFor(model)));
        var head = view.Head.LastSequence;
        var summary = view.Summary;
        var piece = new List<Message>();
        long pieceTokens = 0, pieceThrough = 0;
        var wrote = false;

        // The instructions and the running summary go with every piece; counted once per piece, not once per message.
        var counter = _ledger.TokenCounter;
        long Overhead() => counter.CountText(HistorySummarizer.Instructions) + (summary is null ? 0 : counter.CountText(summary.Text)) + 64;
        var overhead = Overhead();

        async Task FoldAsync()
        {
            var request = HistorySummarizer.BuildRequest(model, Options.SummaryMaxTokens, summary?.Text, piece) with { Thinking = thinking, OutputConfig = outputConfig };
            var response = await _ledger.Model.SendAsync(request, cancellationToken);
            var text = response.Message.Text.Trim();
            if (text.Length == 0)
            {
                await RecordUncommittedAsync(response, "summary failed");
                throw new ModelCallException("the summary came back empty", requestId: response.RequestId);
            }
            var turnId = Guid.CreateVersion7().ToString("N");
            var usage = response.Usage;
            var entry = new SummaryEntry(text, summary?.FromSequence ?? from, pieceThrough, response.Model, usage.TotalInputTokens, usage.OutputTokens) { TurnId = turnId };
            LedgerEntry[] entries =
            [
                entry,
                new UsageEntry(new UsageRecord(response.Model, usage, _ledger.Models.Cost(response.Model, usage), response.RequestId, response.StopReason)) { TurnId = turnId },
            ];
            try
            {
                head = (await AppendAsync(head, entries, cancellationToken)).Head.LastSequence;
            }
            catch (ConcurrencyConflictException)
            {
                await RecordUncommittedAsync(response, "summary failed");
                throw;
            }
            _ledger.Telemetry.SummaryWritten(Key, response.Model, entry.FromSequence, entry.ThroughSequence, usage);
            summary = entry;
            overhead = Overhead();
            piece.Clear();
            pieceTokens = 0;
            wrote = true;
        }

        // Edits and retractions of the range are stored after it (up to the head): a withdrawn turn is never summarized,
        // an edited message is summarized as edited.
        var edits = new Dictionary<long, EditEntry>();
        await foreach (var edit in Store.ReadAllAsync(Key, from - 1, head, cancellationToken))
        {
            if (edit is EditEntry { Target: var target } e && target >= from && target <= through)
            {
                edits[target] = e;
            }
        }

        await foreach (var entry in Store.ReadAllAsync(Key, from - 1, through, cancellationToken))
        {
            if (entry is not MessageEntry message || edits.GetValueOrDefault(entry.Sequence) is { Retracted: true })
            {
                continue;
            }
            var clipped = HistorySummarizer.Clip(edits.GetValueOrDefault(entry.Sequence)?.Replacement ?? message.Message, budget - overhead, counter, out var tokens);
            if (piece.Count > 0 && overhead + pieceTokens + tokens > budget)
            {
                await FoldAsync();
            }
            piece.Add(clipped);
            pieceTokens += tokens;
            pieceThrough = entry.Sequence;
        }
        if (piece.Count > 0)
        {
            pieceThrough = through; // the last piece covers the whole range, the events among its messages included
            await FoldAsync();
        }
        return wrote;
    }

    /// <summary>The most tokens of dropped messages one summary request carries; a longer backlog is summarized in pieces.</summary>
    internal const long SummaryPieceTokens = 100_000;

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
            stored = await AppendAsync(head.LastSequence, entries, cancellationToken);
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
            Usage = (UsageEntry)stored.Entries[2],
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

    // Every append of a turn or summary: timed, and a lost race counted and logged before it reaches the caller.
    private async Task<AppendResult> AppendAsync(long expected, IReadOnlyList<LedgerEntry> entries, CancellationToken cancellationToken)
    {
        try
        {
            return await _ledger.Telemetry.StoreAsync("append", () => Store.AppendAsync(Key, expected, entries, cancellationToken));
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

    private async Task SetPinAsync(long sequence, bool pinned, CancellationToken cancellationToken)
    {
        var view = await LoadAsync(cancellationToken);
        var index = IndexOf(view, sequence);
        ThrowIfThinkingLoopOpen(view, "the pins"); // a pin moves its turn in front of the window
        // Pins apply to whole turns: a lone pinned question or answer would break alternation when sent.
        var turn = view.Units.At(index);
        var pins = view.Messages.Skip(turn.Start).Take(turn.Count)
            .Select(m => (LedgerEntry)new PinEntry(m.Sequence, pinned))
            .ToArray();
        await Store.AppendAsync(Key, view.Head.LastSequence, pins, cancellationToken);
    }

    // With thinking on, the API wants the open tool loop's newest reply back with its thinking, signed over the prompt as
    // it was: after a change before it, no request could continue the loop. Refused here, before anything is stored.
    private void ThrowIfThinkingLoopOpen(ConversationView view, string what)
    {
        if (Defaults.ThinksOn(_ledger.Models.Get(Defaults.Model)) && view.Messages is [.., { Message.CallsTools: true }])
        {
            throw new LedgerException(
                $"thread {Key} is in the middle of a tool loop with thinking on: changing {what} now would invalidate the loop's thinking; send the tool result first and change it after the loop");
        }
    }

    private int IndexOf(ConversationView view, long sequence)
    {
        for (var i = 0; i < view.Messages.Count; i++)
        {
            if (view.Messages[i].Sequence == sequence)
            {
                return i;
            }
        }
        throw new LedgerNotFoundException($"thread {Key} has no message at entry {sequence} since its last reset");
    }

    // The user and assistant turns of a request: mid-conversation system messages are instructions between them.
    private static Message[] Turns(IEnumerable<Message> messages) => messages.Where(m => m.Role != Role.System).ToArray();

    private static void CheckUserMessage(Message userMessage)
    {
        ArgumentNullException.ThrowIfNull(userMessage);
        if (userMessage.Role != Role.User)
        {
            throw new ArgumentException($"a turn starts with a user message, got {userMessage.Role}", nameof(userMessage));
        }
    }

    private sealed record PreparedTurn(ConversationView View, Message User, int UserTokens, PreparedRequest Prepared, string? SummaryError)
    {
        /// <summary>The messages of the turn a retry replaces, withdrawn when it commits.</summary>
        public IReadOnlyList<LedgerMessage> Withdrawn { get; init; } = [];

        /// <summary>When the turn started (a <see cref="Stopwatch"/> timestamp), for its duration.</summary>
        public long Started { get; init; } = Stopwatch.GetTimestamp();

        /// <summary>The id the caller chose for the turn's entries (null: a new one).</summary>
        public string? TurnId { get; init; }
    }
}
