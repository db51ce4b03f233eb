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
public sealed partial class Conversation
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
            await using var lease = await TryTakeLeaseAsync(settings, renew: true, cancellationToken);
            return await SendOnceAsync(userMessage, settings, lease, cancellationToken);
        }

        // This process's turns queue on a local gate, so only one of them at a time waits for the store's lease.
        using var turn = await _ledger.EnterAsync(Key, cancellationToken);
        await using var held = await TakeLeaseAsync(settings, renew: true, cancellationToken);
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return await SendOnceAsync(userMessage, settings, held, cancellationToken);
            }
            catch (ConcurrencyConflictException) when (attempt < Options.MaxConflictRetries)
            {
                // Another process won; the next attempt reads its turn and sends on top of it.
                _ledger.Telemetry.Retry(Key, attempt + 1);
            }
        }
    }

    private async Task<TurnResult> SendOnceAsync(Message userMessage, TurnSettings settings, TurnLease lease, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        using var activity = _ledger.Telemetry.StartTurn(Key, settings.Model);
        try
        {
            var prepared = await PrepareAsync(userMessage, summarize: true, settings, cancellationToken, lease) with { Started = started, Lease = lease };
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

    private async Task<PreparedTurn> PrepareAsync(Message userMessage, bool summarize, TurnSettings settings, CancellationToken cancellationToken,
        TurnLease? lease = null)
    {
        var (view, selection) = await SelectAsync(settings.Policy, [], cancellationToken, lease);
        string? summaryError = null;
        if (summarize && selection.SummaryDue is { } due)
        {
            (view, selection, summaryError) = await FoldSummaryAsync(view, selection, due, settings, [], cancellationToken);
        }
        return Finish(view, selection, userMessage, summaryError, settings);
    }

    // A turn's lease, taken with the window the turn reads first (one round trip less where the store can); refused with a
    // conflict when another turn holds it, or waited for.
    private async Task<TurnLease> TryTakeLeaseAsync(TurnSettings settings, bool renew, CancellationToken cancellationToken) =>
        await TurnLease.TryTakeAsync(Store, Key, Options.TurnLease, HistoryPlanner.FirstRead(settings.Policy), _ledger.Telemetry, renew, cancellationToken)
            ?? throw ConcurrencyConflictException.ForTurnInFlight(Key);

    private Task<TurnLease> TakeLeaseAsync(TurnSettings settings, bool renew, CancellationToken cancellationToken) =>
        TurnLease.TakeAsync(Store, Key, Options.TurnLease, HistoryPlanner.FirstRead(settings.Policy), _ledger.Telemetry, renew, cancellationToken);

    // Reads what the policy plans and lets it select (the first read may come with the turn's lease); messages a retry is
    // about to withdraw are left out as if withdrawn.
    private async Task<(ConversationView View, HistorySelection Selection)> SelectAsync(IHistoryPolicy policy, IReadOnlyList<LedgerMessage> withdrawn,
        CancellationToken cancellationToken, TurnLease? lease = null)
    {
        var planned = await HistoryPlanner.SelectAsync(policy, async (spec, ct) =>
        {
            var view = lease?.TakeFirstRead(spec) is { } read ? ConversationView.Project(read) : await ReadPolicyWindowAsync(spec, ct);
            return withdrawn.Count == 0 ? view : view.Without(withdrawn);
        }, cancellationToken);
        return (planned.View, planned.Selection);
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

        /// <summary>The turn's lease, which the append that commits the turn releases.</summary>
        public TurnLease? Lease { get; init; }
    }
}
