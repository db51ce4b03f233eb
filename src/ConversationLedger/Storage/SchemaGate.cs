namespace ConversationLedger.Storage;

/// <summary>
/// A store's schema check, run once per store instance, for store implementations: the first operation prepares the
/// schema (creates it, or checks what is there) while later ones wait, and once it succeeded nobody prepares again. A
/// schema newer than the store's is refused with one message naming the package to upgrade. Thread-safe.
/// </summary>
public sealed class SchemaGate : IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly string _holder;
    private readonly string _package;
    private volatile bool _ready;

    /// <summary>Creates the gate of a store that reads and writes schema version <paramref name="supportedVersion"/>.</summary>
    /// <param name="supportedVersion">The schema version the store writes and reads.</param>
    /// <param name="holder">What holds the schema with its verb, as the refusal starts: <c>the database ledger.db has</c>.</param>
    /// <param name="package">The package to upgrade when the schema is newer.</param>
    public SchemaGate(int supportedVersion, string holder, string package)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(holder);
        ArgumentException.ThrowIfNullOrWhiteSpace(package);
        SupportedVersion = supportedVersion;
        _holder = holder;
        _package = package;
    }

    /// <summary>The schema version the store writes and reads.</summary>
    public int SupportedVersion { get; }

    /// <summary>Whether the schema was prepared; a store may skip <see cref="EnsureAsync"/> (and its call) when it was.</summary>
    public bool IsReady => _ready;

    /// <summary>
    /// Runs <paramref name="prepare"/> unless the schema is ready; one caller at a time, so concurrent first operations
    /// prepare once. A failed preparation leaves the gate closed and the next operation tries again.
    /// </summary>
    public async Task EnsureAsync(Func<CancellationToken, Task> prepare, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(prepare);
        if (_ready)
        {
            return;
        }
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (!_ready)
            {
                await prepare(cancellationToken);
                _ready = true;
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Refuses a stored schema version newer than <see cref="SupportedVersion"/>; null (no version stored) passes.</summary>
    /// <exception cref="LedgerException">The stored schema is newer.</exception>
    public void ThrowIfNewer(long? storedVersion)
    {
        if (storedVersion > SupportedVersion)
        {
            throw new LedgerException($"{_holder} schema version {storedVersion}, newer than this library's {SupportedVersion}; upgrade {_package}");
        }
    }

    /// <inheritdoc />
    public void Dispose() => _gate.Dispose();
}
