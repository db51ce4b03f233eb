namespace ConversationLedger.Emulator;

/// <summary>Token figures of single blocks, taken from <see cref="O200kTokenCounter"/> so they add up to its counts.</summary>
internal static class BlockTokens
{
    // A block's tokens as the counter sees it: a one-block message minus the message framing.
    public static int Of(ContentBlock block) =>
        O200kTokenCounter.Instance.CountTokens(new Message(Role.User, [block])) - O200kTokenCounter.MessageOverhead;

    public static long Of(IEnumerable<ContentBlock> blocks) => blocks.Sum(b => (long)Of(b));
}
