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
}
