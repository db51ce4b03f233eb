using ConversationLedger.Redis;
using StackExchange.Redis;

namespace ConversationLedger.Stores.Tests;

/// <summary>What the Redis store leaves in its keys. Each test writes under a key prefix of its own and removes it.</summary>
public sealed class RedisKeyTests : IAsyncLifetime
{
    private readonly string _prefix = "cltest-" + Guid.NewGuid().ToString("N") + ":";
    private readonly ThreadKey _key = new("tenant", "scope", "thread");
    private ConnectionMultiplexer? _redis;

    private IDatabase Db => _redis!.GetDatabase();

    private RedisConversationStore Store => new(_redis!, _prefix);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_redis is not null)
        {
            await Db.KeyDeleteAsync(Keys().Select(k => (RedisKey)k).ToArray());
        }
    }

    private async Task<RedisConversationStore> StoreAsync()
    {
        _redis = await Servers.RedisAsync();
        return Store;
    }

    private string[] Keys() => _redis!.GetServers().Single().Keys(pattern: _prefix + "*").Select(k => k.ToString()).ToArray();

    private static LedgerEntry[] Turns(int count) => Enumerable.Range(1, count).SelectMany(n => new LedgerEntry[]
    {
        new MessageEntry(Message.User($"question {n}")) { Tokens = 1 },
        new MessageEntry(Message.Assistant($"answer {n}")) { Tokens = 1 },
    }).ToArray();

    [SkippableFact]
    public async Task A_large_append_leaves_no_staged_keys_and_no_expiry_on_the_thread()
    {
        var store = await StoreAsync();

        await store.AppendAsync(_key, 0, Turns(RedisConversationStore.BatchEntries + 1));

        var keys = Keys();
        Assert.DoesNotContain(keys, k => k.Contains("staging:", StringComparison.Ordinal));
        Assert.Equal(7, keys.Length); // schema version, head, entries, messages, tokens, tenant and scope listings
        foreach (var key in keys)
        {
            Assert.Null(await Db.KeyTimeToLiveAsync(key));
        }
    }

    [SkippableFact]
    public async Task Two_large_appends_racing_to_create_a_thread_store_one_and_leave_no_staged_keys()
    {
        var store = await StoreAsync();
        var entries = Turns(RedisConversationStore.BatchEntries + 1);

        var results = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => Task.Run(async () =>
        {
            try
            {
                return await store.AppendAsync(_key, 0, entries);
            }
            catch (ConcurrencyConflictException)
            {
                return null;
            }
        })));

        var stored = Assert.Single(results, r => r is not null)!;
        Assert.Equal(stored.Head, await store.GetHeadAsync(_key));
        Assert.Equal(stored.Entries.TakeLast(10), await store.ReadEntriesAsync(_key, stored.Head.LastSequence - 10, 100));
        Assert.DoesNotContain(Keys(), k => k.Contains("staging:", StringComparison.Ordinal));
    }
}
