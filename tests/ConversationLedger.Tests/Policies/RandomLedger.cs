namespace ConversationLedger.Tests.Policies;

/// <summary>Builds random but valid ledgers: plain turns, tool round trips, thinking blocks, pins, resets and summaries.</summary>
internal static class RandomLedger
{
    public static readonly ThreadKey Key = new("tenant", "scope", "thread");

    /// <summary>Builds a ledger; an agentic one calls tools in most replies, so tool loops run long and may still be open at the end.</summary>
    public static async Task<InMemoryConversationStore> BuildAsync(int seed, int turns, bool agentic = false)
    {
        var random = new Random(seed);
        var store = new InMemoryConversationStore();
        var counter = O200kTokenCounter.Instance;
        long head = 0;
        var toolId = 0;
        var pendingTool = (string?)null;
        var messagesSinceReset = 0;

        async Task Append(params LedgerEntry[] entries) =>
            head = (await store.AppendAsync(Key, head, entries)).Head.LastSequence;

        LedgerEntry Msg(Message m) => new MessageEntry(m) { Tokens = counter.CountTokens(m) };

        if (random.Next(3) == 0)
        {
            await Append(new SystemPromptEntry("You are a careful assistant. " + Words(random, 40), 1));
        }
        for (var t = 0; t < turns; t++)
        {
            Message user = pendingTool is { } id
                ? new Message(Role.User, [ContentBlock.CreateToolResult(id, Words(random, random.Next(1, 30)))])
                : Message.User(Words(random, random.Next(1, 120)));
            pendingTool = null;

            var blocks = new List<ContentBlock>();
            if (random.Next(4) == 0)
            {
                blocks.Add(ContentBlock.CreateThinking(Words(random, 10), "sig-" + random.Next()));
            }
            blocks.Add(ContentBlock.CreateText(Words(random, random.Next(1, 200))));
            if (agentic ? random.Next(5) != 0 : random.Next(5) == 0 && t < turns - 1)
            {
                pendingTool = $"toolu_{++toolId:D4}";
                blocks.Add(ContentBlock.CreateToolUse(pendingTool, "lookup", "{\"q\":\"x\"}"));
            }
            await Append(Msg(user), Msg(new Message(Role.Assistant, blocks)));
            messagesSinceReset += 2;

            var roll = random.Next(20);
            if (roll == 0 && messagesSinceReset > 0)
            {
                // Pin a random recent message (the conversation pins whole turns; here single messages too, to be hostile).
                await Append(new PinEntry(head - random.Next(0, 2), true));
            }
            else if (roll == 1 && pendingTool is null && t < turns - 3)
            {
                await Append(new ResetEntry("random"));
                messagesSinceReset = 0;
            }
            else if (roll == 2 && head > 4)
            {
                await Append(new SummaryEntry("Summary: " + Words(random, 30), 1, head - 2, "claude-sonnet-5-5", 100, 30));
            }
        }
        return store;
    }

    private static readonly string[] Vocabulary =
        ["the", "ledger", "keeps", "every", "turn", "error", "Flask", "JWT", "token", "refresh", "middleware", "Hesham", "429", "retry", "cache", "window"];

    public static string Words(Random random, int count) =>
        string.Join(' ', Enumerable.Range(0, count).Select(_ => Vocabulary[random.Next(Vocabulary.Length)]));
}
