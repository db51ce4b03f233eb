using System.Runtime.CompilerServices;
using ConversationLedger.Postgres;
using ConversationLedger.Redis;
using ConversationLedger.Sqlite;

namespace ConversationLedger.Stores.Tests;

/// <summary>
/// A hundred writers on one thread through two ledgers over one store (two processes): with the turn lease no loser pays for
/// a model call. Needs the servers for PostgreSQL and Redis (skipped locally, failing in CI, when they are unreachable).
/// </summary>
public sealed class ConcurrentWriterTests : IDisposable
{
    private const int Writers = 100;

    private readonly string _directory = Directory.CreateTempSubdirectory("ledger-writers-").FullName;
    private readonly string _tenant = "tenant-" + Guid.NewGuid().ToString("N");
    private readonly List<IConversationStore> _cleanup = [];

    public static TheoryData<string> Stores => ["memory", "sqlite", "postgres", "redis"];

    [SkippableTheory]
    [MemberData(nameof(Stores))]
    public async Task With_throw_every_model_call_ends_in_a_stored_turn(string store)
    {
        // Given two ledgers over one store, and a hundred writers that each try three times
        var (conversations, model) = await TwoLedgersAsync(store, ConflictHandling.Throw);
        var refused = 0;

        // When they all send at once
        await Task.WhenAll(Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
        {
            for (var attempt = 0; attempt < 3; attempt++)
            {
                try
                {
                    await conversations[w % 2].SendAsync($"writer {w} attempt {attempt}");
                }
                catch (ConcurrencyConflictException ex) when (ex.TurnInFlight)
                {
                    Interlocked.Increment(ref refused);
                    await Task.Delay(Random.Shared.Next(1, 5));
                }
            }
        })));

        // Then the losers were refused before calling the model: one call per stored turn
        var view = await conversations[0].LoadAsync();
        Assert.True(refused > 0);
        Assert.Equal(view.MessageCount / 2, model.Calls);
        Assert.Empty(ConversationValidator.Validate(view.AsMessages(), ValidationOptions.StrictHistory));
    }

    [SkippableTheory]
    [MemberData(nameof(Stores))]
    public async Task With_wait_and_retry_every_writer_is_stored_once_for_one_model_call(string store)
    {
        var (conversations, model) = await TwoLedgersAsync(store, ConflictHandling.WaitAndRetry);

        await Task.WhenAll(Enumerable.Range(0, Writers).Select(w => Task.Run(() => conversations[w % 2].SendAsync($"writer {w}"))));

        var view = await conversations[0].LoadAsync();
        Assert.Equal(Writers, view.MessageCount / 2);
        Assert.Equal(Writers, model.Calls);
        Assert.Equal(Writers, view.AsMessages().Where(m => m.Role == Role.User).Select(m => m.Text).Distinct().Count());
    }

    public void Dispose()
    {
        foreach (var store in _cleanup)
        {
            store.DeleteTenantAsync(_tenant).GetAwaiter().GetResult();
        }
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    private async Task<(Conversation[] Conversations, FakeModel Model)> TwoLedgersAsync(string kind, ConflictHandling onConflict)
    {
        var memory = new InMemoryConversationStore();
        async Task<IConversationStore> StoreAsync() => kind switch
        {
            "memory" => memory,
            "sqlite" => new SqliteConversationStore(Path.Combine(_directory, "ledger.db")),
            "postgres" => new PostgresConversationStore(await Servers.PostgresAsync()),
            _ => new RedisConversationStore(await Servers.RedisAsync()),
        };
        var model = new FakeModel { Latency = TimeSpan.FromMilliseconds(5), Reply = static (_, _) => "ok" };
        var key = new ThreadKey(_tenant, "scope", "shared");
        var conversations = new Conversation[2];
        for (var i = 0; i < 2; i++)
        {
            var store = await StoreAsync();
            _cleanup.Add(store);
            var options = new LedgerOptions { HistoryPolicy = KeepAllPolicy.Instance, PromptCaching = false, PinFirstExchange = false, OnConflict = onConflict };
            conversations[i] = new Ledger(store, model, options).Open(key);
        }
        return (conversations, model);
    }
}
