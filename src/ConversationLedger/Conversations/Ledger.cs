namespace ConversationLedger;

/// <summary>
/// The entry point: a store, a model and settings. <see cref="Open"/> gives a <see cref="Conversation"/> for one
/// thread. Thread-safe; share one instance per process.
/// </summary>
public sealed class Ledger
{
    // One gate per thread while anyone waits on it or holds it, removed with its last user, so memory stays bounded
    // however many threads a long-running process touches.
    private readonly Dictionary<ThreadKey, Gate> _gates = [];

    /// <summary>Creates a ledger.</summary>
    public Ledger(IConversationStore store, IModelClient model, LedgerOptions? options = null)
    {
        Store = store ?? throw new ArgumentNullException(nameof(store));
        Model = model ?? throw new ArgumentNullException(nameof(model));
        Options = options ?? new LedgerOptions();
        ArgumentException.ThrowIfNullOrWhiteSpace(Options.Model, nameof(options));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(Options.MaxTokens, nameof(options));
        ArgumentOutOfRangeException.ThrowIfNegative(Options.MaxConflictRetries, nameof(options));
        ArgumentNullException.ThrowIfNull(Options.Policy, nameof(options));
        Options.Thinking?.Validate();
        if (Options.Effort is not (null or "low" or "medium" or "high" or "max"))
        {
            throw new ArgumentException($"effort '{Options.Effort}' is not one of low, medium, high, max", nameof(options));
        }
        Requests = new RequestBuilder(Options);
    }

    /// <summary>The store.</summary>
    public IConversationStore Store { get; }

    /// <summary>The model client.</summary>
    public IModelClient Model { get; }

    /// <summary>The settings.</summary>
    public LedgerOptions Options { get; }

    /// <summary>A conversation handle for one thread (cheap; nothing is read until it is used).</summary>
    public Conversation Open(ThreadKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return new Conversation(this, key);
    }

    internal RequestBuilder Requests { get; }

    // Sends to one thread from this process queue here when the caller asked to wait instead of failing.
    /// <summary>How many thread gates exist now (for tests: none once no turn is in flight).</summary>
    internal int GateCount
    {
        get
        {
            lock (_gates)
            {
                return _gates.Count;
            }
        }
    }

    internal async Task<IDisposable> EnterAsync(ThreadKey key, CancellationToken cancellationToken)
    {
        Gate gate;
        lock (_gates)
        {
            if (!_gates.TryGetValue(key, out gate!))
            {
                _gates[key] = gate = new Gate();
            }
            gate.Users++;
        }
        try
        {
            await gate.Semaphore.WaitAsync(cancellationToken);
        }
        catch
        {
            Leave(key, gate, entered: false);
            throw;
        }
        return new Exit(() => Leave(key, gate, entered: true));
    }

    private void Leave(ThreadKey key, Gate gate, bool entered)
    {
        if (entered)
        {
            gate.Semaphore.Release();
        }
        lock (_gates)
        {
            if (--gate.Users == 0)
            {
                _gates.Remove(key);
                gate.Semaphore.Dispose();
            }
        }
    }

    private sealed class Gate
    {
        public SemaphoreSlim Semaphore { get; } = new(1, 1);

        public int Users { get; set; }
    }

    private sealed class Exit(Action leave) : IDisposable
    {
        private Action? _leave = leave;

        public void Dispose() => Interlocked.Exchange(ref _leave, null)?.Invoke();
    }
}
