namespace ConversationLedger.Storage;

/// <summary>
/// Argument checks for store implementations: each <see cref="IConversationStore"/> method checks its arguments here, so
/// every store refuses the same misuse with the same exception and parameter name.
/// </summary>
public static class StoreArguments
{
    /// <summary>Checks an append's arguments: a key, a non-negative expected sequence and a list of entries.</summary>
    public static void CheckAppend(ThreadKey key, long expectedSequence, IReadOnlyList<LedgerEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(entries);
        ArgumentOutOfRangeException.ThrowIfNegative(expectedSequence);
    }

    /// <summary>Checks a window read's arguments: a key and a window.</summary>
    public static void CheckWindow(ThreadKey key, WindowSpec window)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(window);
    }

    /// <summary>Checks a page read's arguments: a key, a non-negative sequence to read after and a positive limit.</summary>
    public static void CheckEntries(ThreadKey key, long afterSequence, int limit)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentOutOfRangeException.ThrowIfNegative(afterSequence);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
    }

    /// <summary>
    /// Checks a listing's arguments (a tenant, a page with a positive limit and a cursor from a listing) and returns the
    /// page size to read (the limit, at most <see cref="PageRequest.MaxLimit"/>) and where to start.
    /// </summary>
    /// <exception cref="ArgumentException">The tenant is not a key part, or the cursor was not made by a listing.</exception>
    public static (ThreadCursor? After, int Limit) CheckList(string tenant, PageRequest page)
    {
        ThreadKey.CheckPart(tenant, nameof(tenant));
        ArgumentNullException.ThrowIfNull(page);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(page.Limit, nameof(page));
        return (ThreadCursor.Decode(page.Cursor), Math.Min(page.Limit, PageRequest.MaxLimit));
    }

    /// <summary>Checks a turn lease's arguments: a key, a holder that is not blank, and (when given) a positive duration.</summary>
    public static void CheckLease(ThreadKey key, string holder, TimeSpan? duration = null)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentException.ThrowIfNullOrWhiteSpace(holder);
        if (duration is { } d)
        {
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(d, TimeSpan.Zero, nameof(duration));
        }
    }

    /// <summary>Checks a fork's keys: both given, both in one tenant.</summary>
    public static void CheckFork(ThreadKey source, ThreadKey target)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        if (source.Tenant != target.Tenant)
        {
            throw new ArgumentException("a thread can only be forked within its tenant", nameof(target));
        }
    }
}
