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
    /// <param name="store">Where the threads are kept.</param>
    /// <param name="model">The model client.</param>
    /// <param name="options">The settings (null: the defaults). Checked here; from now on the instance is read-only.</param>
    /// <param name="services">The model table, token counter and calibration (null: the defaults).</param>
    /// <exception cref="ArgumentException">A setting is invalid; the message names it (as <see cref="LedgerOptions.Validate"/> does).</exception>
    public Ledger(IConversationStore store, IModelClient model, LedgerOptions? options = null, LedgerServices? services = null)
    {
        Store = store ?? throw new ArgumentNullException(nameof(store));
        Model = model ?? throw new ArgumentNullException(nameof(model));
        Options = options ?? new LedgerOptions();
        if (Options.Problems().FirstOrDefault() is { Message: { } problem } found)
        {
            throw found.OutOfRange ? new ArgumentOutOfRangeException(nameof(options), problem) : new ArgumentException(problem, nameof(options));
        }
        Options.MakeReadOnly();
        services ??= new LedgerServices();
        Models = services.Models ?? throw new ArgumentException("LedgerServices.Models is null", nameof(services));
        TokenCounter = services.TokenCounter ?? throw new ArgumentException("LedgerServices.TokenCounter is null", nameof(services));
        Calibration = services.Calibration ?? new TokenCalibration(Models);
        Defaults = TurnSettings.From(Options, Options.ResolvePolicy());
        Requests = new RequestBuilder(Options, Models, Calibration, TokenCounter);
        Telemetry = new LedgerTelemetry(services.LoggerFactory, services.MeterFactory, Options.EnableSensitiveTelemetryData);
    }

    internal LedgerTelemetry Telemetry { get; }

    /// <summary>The store.</summary>
    public IConversationStore Store { get; }

    /// <summary>The model client.</summary>
    public IModelClient Model { get; }

    /// <summary>The settings, read-only: per-turn changes go in <see cref="TurnOptions"/>.</summary>
    public LedgerOptions Options { get; }

    /// <summary>The history policy turns use unless their <see cref="TurnOptions"/> name another.</summary>
    public IHistoryPolicy Policy => Defaults.Policy;

    /// <summary>The model table (limits, prices, capabilities).</summary>
    public ModelCatalog Models { get; }

    /// <summary>Local token estimates for entries and requests.</summary>
    public ITokenCounter TokenCounter { get; }

    /// <summary>The per-model factors learned from real usage (thread-safe; shared by every conversation of this ledger).</summary>
    public TokenCalibration Calibration { get; }

    /// <summary>A conversation handle for one thread (cheap; nothing is read until it is used).</summary>
    public Conversation Open(ThreadKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return new Conversation(this, key);
    }

    internal RequestBuilder Requests { get; }

    internal SummaryBackoff SummaryBackoff { get; } = new();

    internal TurnSettings Defaults { get; }

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
