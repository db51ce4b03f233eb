namespace ConversationLedger;

/// <summary>
/// A prepared turn waiting for its reply (from <see cref="Conversation.BeginTurnAsync"/>): the request to send, and the
/// commit that stores the user message, the reply and the usage record atomically. Commit at most once.
/// </summary>
public sealed class PendingTurn
{
    private readonly Func<ModelResponse, CancellationToken, Task<TurnResult>> _commit;
    private int _committed;

    internal PendingTurn(PreparedRequest prepared, Func<ModelResponse, CancellationToken, Task<TurnResult>> commit)
    {
        Prepared = prepared;
        _commit = commit;
    }

    /// <summary>The request as the ledger would send it: window, summary, cache breakpoints, the new message last.</summary>
    public PreparedRequest Prepared { get; }

    /// <summary>The request body's parts.</summary>
    public ModelRequest Request => Prepared.Request;

    /// <summary>Stores the turn with the model's reply (validated first, as every reply is).</summary>
    /// <exception cref="ModelCallException">The reply cannot be stored (it would break the ledger's rules); nothing was stored.</exception>
    /// <exception cref="ConcurrencyConflictException">Another writer committed to the thread since the turn was prepared; nothing was stored.</exception>
    /// <exception cref="InvalidOperationException">The turn was already committed.</exception>
    public Task<TurnResult> CommitAsync(ModelResponse response, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(response);
        if (Interlocked.Exchange(ref _committed, 1) != 0)
        {
            throw new InvalidOperationException("this turn was already committed");
        }
        return _commit(response, cancellationToken);
    }
}
