using System.Runtime.CompilerServices;

namespace ConversationLedger;

/// <summary>Reads every store serves through <see cref="IConversationStore"/>.</summary>
public static class ConversationStoreExtensions
{
    /// <summary>The page size <see cref="ReadAllAsync"/> reads with.</summary>
    internal const int ReadAllPageSize = 1000;

    /// <summary>
    /// The thread's entries after <paramref name="afterSequence"/> through <paramref name="throughSequence"/> (archive
    /// included), oldest first, read page by page as the caller consumes them. Entries are immutable, so pages read at
    /// different moments join into exactly what one read would have seen up to the head the caller knew.
    /// </summary>
    public static async IAsyncEnumerable<LedgerEntry> ReadAllAsync(this IConversationStore store, ThreadKey key,
        long afterSequence = 0, long throughSequence = long.MaxValue, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(key);
        for (var after = Math.Max(afterSequence, 0); after < throughSequence;)
        {
            var page = await store.ReadEntriesAsync(key, after, (int)Math.Min(throughSequence - after, ReadAllPageSize), cancellationToken);
            foreach (var entry in page)
            {
                if (entry.Sequence > throughSequence)
                {
                    yield break;
                }
                yield return entry;
            }
            if (page.Count < Math.Min(throughSequence - after, ReadAllPageSize))
            {
                yield break;
            }
            after = page[^1].Sequence;
        }
    }

    /// <summary>
    /// Every thread of <paramref name="scope"/> (newest activity first, as <see cref="IConversationStore.ListThreadsAsync"/>
    /// orders them), read page by page as the caller consumes them.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="store"/> is null.</exception>
    public static async IAsyncEnumerable<ThreadHead> ListAllThreadsAsync(this IConversationStore store, string tenant, string? scope,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        string? cursor = null;
        do
        {
            var page = await store.ListThreadsAsync(tenant, scope, new PageRequest(Limit: PageRequest.MaxLimit, Cursor: cursor), cancellationToken);
            foreach (var head in page.Threads)
            {
                yield return head;
            }
            cursor = page.NextCursor;
        }
        while (cursor is not null);
    }
}
