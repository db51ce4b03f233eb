using System.Collections.Concurrent;

namespace ConversationLedger;

/// <summary>
/// The entry point: a store, a model and settings. <see cref="Open"/> gives a <see cref="Conversation"/> for one
/// thread. Thread-safe; share one instance per process.
/// </summary>
public sealed class Ledger
{
    private readonly ConcurrentDictionary<ThreadKey, SemaphoreSlim> _gates = new();

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
    internal SemaphoreSlim GateFor(ThreadKey key) => _gates.GetOrAdd(key, _ => new SemaphoreSlim(1, 1));
}
