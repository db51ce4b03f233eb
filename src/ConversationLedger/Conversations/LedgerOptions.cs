namespace ConversationLedger;

/// <summary>What to do when another writer committed to the thread while a turn was in flight.</summary>
public enum ConflictHandling
{
    /// <summary>Throw <see cref="ConcurrencyConflictException"/>; nothing of the turn is stored.</summary>
    Throw,

    /// <summary>Wait for the other turn, then send again on the new history (up to <see cref="LedgerOptions.MaxConflictRetries"/> times).</summary>
    WaitAndRetry,
}

/// <summary>Settings of a <see cref="Ledger"/>.</summary>
public sealed class LedgerOptions
{
    /// <summary>The model id. <value>The default value is "claude-sonnet-5-5".</value></summary>
    public string Model { get; set; } = "claude-sonnet-5-5";

    /// <summary>The most tokens a reply may have. <value>The default value is 1024.</value></summary>
    public int MaxTokens { get; set; } = 1024;

    /// <summary>The model table (limits and prices). <value>The default value is the built-in table.</value></summary>
    public ModelCatalog Models { get; set; } = ModelCatalog.Default;

    /// <summary>What to do on a concurrent commit. <value>The default value is <see cref="ConflictHandling.Throw"/>.</value></summary>
    public ConflictHandling OnConflict { get; set; } = ConflictHandling.Throw;

    /// <summary>How often to send again after conflicts with <see cref="ConflictHandling.WaitAndRetry"/>. <value>The default value is 3.</value></summary>
    public int MaxConflictRetries { get; set; } = 3;

    /// <summary>Local token estimates for entries and requests. <value>The default value is the o200k estimator.</value></summary>
    public ITokenCounter TokenCounter { get; set; } = O200kTokenCounter.Instance;

    /// <summary>The clock. <value>The default value is the system clock.</value></summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;
}
