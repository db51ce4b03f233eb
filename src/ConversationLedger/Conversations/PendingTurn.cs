namespace ConversationLedger;

/// <summary>
/// A prepared turn waiting for its reply (from <see cref="Conversation.BeginTurnAsync"/>): the request to send, and the
/// commit that stores the user message, the reply and the usage record atomically. Commit at most once. It holds the thread's
/// turn lease until it is committed or disposed; dispose one that is given up (or let the lease expire after
/// <see cref="LedgerOptions.TurnLease"/>: it is not renewed).
/// </summary>
public sealed class PendingTurn : IAsyncDisposable
{
    private readonly Func<ModelResponse, CancellationToken, Task<TurnResult>> _commit;
    private readonly TurnLease? _lease;
    private int _committed;

    internal PendingTurn(PreparedRequest prepared, Func<ModelResponse, CancellationToken, Task<TurnResult>> commit, TurnLease? lease = null)
    {
        Prepared = prepared;
        _commit = commit;
        _lease = lease;
    }

    /// <summary>The request as the ledger would send it: window, summary, cache breakpoints, the new message last.</summary>
    public PreparedRequest Prepared { get; }

    /// <summary>The request body's parts.</summary>
    public ModelRequest Request => Prepared.Request;

    /// <summary>Stores the turn with the model's reply (validated first, as every reply is), then releases the thread's turn lease.</summary>
    /// <exception cref="ModelCallException">The reply cannot be stored (it would break the ledger's rules); nothing was stored.</exception>
    /// <exception cref="ConcurrencyConflictException">Another writer committed to the thread since the turn was prepared; nothing was stored.</exception>
    /// <exception cref="InvalidOperationException">The turn was already committed.</exception>
    public async Task<TurnResult> CommitAsync(ModelResponse response, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(response);
        if (Interlocked.Exchange(ref _committed, 1) != 0)
        {
            throw new InvalidOperationException("this turn was already committed");
        }
        try
        {
            return await _commit(response, cancellationToken);
        }
        finally
        {
            await DisposeAsync();
        }
    }

    /// <summary>Releases the thread's turn lease without storing anything (nothing is stored unless <see cref="CommitAsync"/> succeeded).</summary>
    public ValueTask DisposeAsync() => _lease?.DisposeAsync() ?? ValueTask.CompletedTask;
}
