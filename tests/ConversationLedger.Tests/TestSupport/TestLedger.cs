namespace ConversationLedger.Tests.TestSupport;

/// <summary>A ledger over an in-memory store and a fake model, with one thread opened; the usual "given" of loop tests.</summary>
internal sealed class TestLedger
{
    public TestLedger(LedgerOptions? options = null, LedgerServices? services = null, [System.Runtime.CompilerServices.CallerMemberName] string thread = "thread")
    {
        Key = new ThreadKey("tenant-a", "scope-1", thread);
        Ledger = new Ledger(Store, Model, options ?? PlainLoop(), services ?? CharacterCounting);
        Conversation = Ledger.Open(Key);
    }

    public InMemoryConversationStore Store { get; } = new();

    /// <summary>The guide's loop: the whole history, no cache breakpoints, no automatic pins — so requests can be compared to the ledger.</summary>
    public static LedgerOptions PlainLoop(ConflictHandling onConflict = ConflictHandling.Throw) => new()
    {
        HistoryPolicy = KeepAllPolicy.Instance,
        PromptCaching = false,
        PinFirstExchange = false,
        OnConflict = onConflict,
    };

    /// <summary>The default model table with the cheap character-based token estimate.</summary>
    public static LedgerServices CharacterCounting => new() { TokenCounter = CharacterTokenCounter.Instance };

    public FakeModel Model { get; } = new();

    public Ledger Ledger { get; }

    public ThreadKey Key { get; }

    public Conversation Conversation { get; }

    /// <summary>Every entry of the thread, archive included.</summary>
    public Task<IReadOnlyList<LedgerEntry>> EntriesAsync() => Store.ReadEntriesAsync(Key, 0, int.MaxValue);

    /// <summary>The messages of the current conversation.</summary>
    public async Task<IReadOnlyList<Message>> MessagesAsync() => (await Conversation.LoadAsync()).AsMessages();
}

/// <summary>A cheap, deterministic token estimate (one token per four characters plus framing) so loop tests need no tokenizer.</summary>
internal sealed class CharacterTokenCounter : ITokenCounter
{
    public static CharacterTokenCounter Instance { get; } = new();

    public int CountText(string text) => text.Length / 4;

    public int CountTokens(Message message) => 4 + message.Content.Sum(b => CountText(b.ReadableText()) + 1);

    public long CountTokens(ModelRequest request) => 3 + request.System.Sum(b => CountText(b.ReadableText()) + 1) + request.Messages.Sum(CountTokens);
}
