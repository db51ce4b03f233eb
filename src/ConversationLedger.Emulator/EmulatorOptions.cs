namespace ConversationLedger.Emulator;

/// <summary>How an <see cref="EmulatorServer"/> behaves.</summary>
public sealed class EmulatorOptions
{
    /// <summary>The one API key accepted; null accepts any non-empty key. <value>The default value is null.</value></summary>
    public string? ApiKey { get; init; }

    /// <summary>The model table: limits, prefill support, minimum cacheable prefix. <value>The default value is <see cref="ModelCatalog.Default"/>.</value></summary>
    public ModelCatalog Models { get; init; } = ModelCatalog.Default;

    /// <summary>The clock of the prompt cache (tests advance it to expire entries). <value>The default value is <see cref="TimeProvider.System"/>.</value></summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>
    /// Whether thinking blocks the emulator signed are rejected when anything before them (or their text) changed,
    /// as the newest models do. <value>The default value is true.</value>
    /// </summary>
    public bool VerifyThinkingSignatures { get; init; } = true;

    /// <summary>The largest request body accepted; larger ones get 413. <value>The default value is 32 MB.</value></summary>
    public long MaxRequestBodyBytes { get; init; } = 32L * 1024 * 1024;

    /// <summary>
    /// The most requests <see cref="EmulatorServer.Requests"/> keeps (the oldest are evicted first; 0 keeps none).
    /// <value>The default value is 1000.</value>
    /// </summary>
    public int MaxLoggedRequests { get; init; } = 1000;

    /// <summary>
    /// The most bytes of bodies and headers <see cref="EmulatorServer.Requests"/> keeps (the oldest are evicted first;
    /// a request larger than this on its own is not kept). <value>The default value is 64 MB.</value>
    /// </summary>
    public long MaxLoggedBytes { get; init; } = 64L * 1024 * 1024;
}
