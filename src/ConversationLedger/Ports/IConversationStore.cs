namespace ConversationLedger;

/// <summary>
/// Durable storage for thread ledgers. Implementations must be safe for concurrent use, must never return
/// or change rows of a tenant other than the one in the key, and must append a batch of entries atomically:
/// all of it or nothing.
/// </summary>
public interface IConversationStore
{
    /// <summary>The thread's head; an empty head (<see cref="ThreadHead.Exists"/> false) when it has no entries.</summary>
    Task<ThreadHead> GetHeadAsync(ThreadKey key, CancellationToken cancellationToken = default);

    /// <summary>
    /// Appends entries atomically if the thread's newest sequence is still <paramref name="expectedSequence"/>
    /// (0 for a new thread). Sequence numbers, times and running sums are assigned by the store.
    /// </summary>
    /// <returns>The stored entries and the new head.</returns>
    /// <exception cref="ConcurrencyConflictException">Another writer appended first; nothing was stored.</exception>
    Task<AppendResult> AppendAsync(ThreadKey key, long expectedSequence, IReadOnlyList<LedgerEntry> entries, CancellationToken cancellationToken = default);

    /// <summary>
    /// Appends as <see cref="AppendAsync(ThreadKey, long, IReadOnlyList{LedgerEntry}, CancellationToken)"/> does and, when the
    /// entries are stored, releases the thread's turn lease if <paramref name="holder"/> holds it, in the same write: a turn's
    /// commit and the end of its lease cost one transaction. An append that stores nothing releases nothing. A store that
    /// cannot do both at once keeps this default, which only appends: <see cref="AppendResult.LeaseReleased"/> then says the
    /// caller must still release the lease.
    /// </summary>
    /// <exception cref="ConcurrencyConflictException">Another writer appended first; nothing was stored or released.</exception>
    Task<AppendResult> AppendAndReleaseTurnLeaseAsync(ThreadKey key, long expectedSequence, IReadOnlyList<LedgerEntry> entries, string holder,
        CancellationToken cancellationToken = default) =>
        AppendAsync(key, expectedSequence, entries, cancellationToken);

    /// <summary>
    /// Reads what a history policy asks for: the newest system prompt, the newest reset entry, and since that reset
    /// the pins with their messages, the newest summary, the window of messages the <paramref name="window"/> selects
    /// and the edits of every message returned. Reads only what it returns: never the whole thread for a bounded window.
    /// </summary>
    Task<ThreadWindow> ReadWindowAsync(ThreadKey key, WindowSpec window, CancellationToken cancellationToken = default);

    /// <summary>Reads up to <paramref name="limit"/> entries with sequence numbers after <paramref name="afterSequence"/>, in order (paging over the whole ledger, archive included).</summary>
    Task<IReadOnlyList<LedgerEntry>> ReadEntriesAsync(ThreadKey key, long afterSequence, int limit, CancellationToken cancellationToken = default);

    /// <summary>Lists a tenant's threads, newest activity first, optionally within one scope.</summary>
    Task<ThreadPage> ListThreadsAsync(string tenant, string? scope, PageRequest page, CancellationToken cancellationToken = default);

    /// <summary>
    /// Creates <paramref name="target"/> as a copy of <paramref name="source"/> up to and including entry
    /// <paramref name="atSequence"/>, followed by a <see cref="ForkEntry"/> naming its origin.
    /// </summary>
    /// <exception cref="LedgerNotFoundException">The source thread or entry does not exist.</exception>
    /// <exception cref="ConcurrencyConflictException">The target thread already exists.</exception>
    Task<ThreadHead> ForkAsync(ThreadKey source, long atSequence, ThreadKey target, CancellationToken cancellationToken = default);

    /// <summary>Erases a thread and all its entries. Returns false when it did not exist.</summary>
    Task<bool> DeleteThreadAsync(ThreadKey key, CancellationToken cancellationToken = default);

    /// <summary>Erases every thread and entry of a tenant (real erasure). Returns the number of threads erased.</summary>
    Task<int> DeleteTenantAsync(string tenant, CancellationToken cancellationToken = default);

    /// <summary>
    /// Takes the thread's turn lease for <paramref name="holder"/> until <paramref name="duration"/> from now, or renews it
    /// when <paramref name="holder"/> holds it already. The lease is what lets a turn learn that another one is in flight
    /// before it pays for a model call; every process and service instance over the same store sees it. It is advisory:
    /// appends never check it (the expected sequence stays the guard against interleaved history), and a lease nobody
    /// renews expires after its duration, so a holder that dies blocks the thread for at most that long.
    /// </summary>
    /// <param name="key">The thread.</param>
    /// <param name="holder">Who takes it: an id unique to this turn (a GUID).</param>
    /// <param name="duration">How long the lease lasts unless renewed or released first.</param>
    /// <param name="cancellationToken">Cancels the attempt.</param>
    /// <returns>True when <paramref name="holder"/> now holds the lease; false when another holder's unexpired lease holds the thread.</returns>
    Task<bool> TryAcquireTurnLeaseAsync(ThreadKey key, string holder, TimeSpan duration, CancellationToken cancellationToken = default);

    /// <summary>
    /// The start of a turn: takes the thread's turn lease as <see cref="TryAcquireTurnLeaseAsync"/> does and, only when it was
    /// taken, reads <paramref name="window"/> as <see cref="ReadWindowAsync"/> does. A store that can do both in fewer round
    /// trips overrides this default, which takes the lease and then reads.
    /// </summary>
    /// <returns>The window read while holding the lease, or null when another holder's unexpired lease holds the thread (nothing was read).</returns>
    async Task<ThreadWindow?> TryAcquireTurnLeaseAndReadWindowAsync(ThreadKey key, string holder, TimeSpan duration, WindowSpec window,
        CancellationToken cancellationToken = default) =>
        await TryAcquireTurnLeaseAsync(key, holder, duration, cancellationToken) ? await ReadWindowAsync(key, window, cancellationToken) : null;

    /// <summary>
    /// Releases the thread's turn lease if <paramref name="holder"/> holds it; a lease taken by another holder (after this one's
    /// expired) is left alone. Returns whether a lease was released.
    /// </summary>
    Task<bool> ReleaseTurnLeaseAsync(ThreadKey key, string holder, CancellationToken cancellationToken = default);
}

/// <summary>The stored entries of an append and the thread's new head.</summary>
public sealed record AppendResult(IReadOnlyList<LedgerEntry> Entries, ThreadHead Head)
{
    /// <summary>
    /// Whether the append also released the caller's turn lease (<see cref="IConversationStore.AppendAndReleaseTurnLeaseAsync"/>
    /// in a store that does both in one write); false: the caller releases it.
    /// </summary>
    public bool LeaseReleased { get; init; }
}

/// <summary>
/// Which messages a policy needs, counted from the newest reset boundary. Unset limits mean all messages since the
/// boundary. <see cref="FromMessage"/> starts the window at a message ordinal (stepped, cache-stable windows);
/// <see cref="LastMessages"/> and <see cref="LastTokens"/> take the newest messages; when several are set the
/// smallest window wins.
/// </summary>
public sealed record WindowSpec
{
    /// <summary>Every message since the newest reset.</summary>
    public static WindowSpec All { get; } = new();

    /// <summary>Only the newest this many messages.</summary>
    public int? LastMessages { get; init; }

    /// <summary>Only the newest messages whose tokens add up to at most this many.</summary>
    public long? LastTokens { get; init; }

    /// <summary>Only messages whose running message count is at least this (1 = the thread's first message).</summary>
    public long? FromMessage { get; init; }
}

/// <summary>The entries a store returned for a window, in sequence order, and the thread's head.</summary>
public sealed record ThreadWindow(ThreadHead Head, IReadOnlyList<LedgerEntry> Entries);

/// <summary>A page request: a cursor from the previous page (null for the first) and a page size.</summary>
public sealed record PageRequest(string? Cursor = null, int Limit = 50)
{
    /// <summary>The largest page size a store returns.</summary>
    public const int MaxLimit = 1000;
}

/// <summary>A page of threads and the cursor of the next page (null when this is the last).</summary>
public sealed record ThreadPage(IReadOnlyList<ThreadHead> Threads, string? NextCursor);
