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

    // Key names as the store builds them: prefix, kind letter, length-prefixed tenant, scope and thread id.
    private string KeyOf(string kind) => $"{_prefix}{kind}:6:tenant5:scope6:thread";

    [SkippableTheory]
    [InlineData("last", "abc")]
    [InlineData("tokens", "1.5")]
    [InlineData("reset", "")]
    [InlineData("summary", "x")]
    [InlineData("created", "99999999999999999999")]
    [InlineData("created", "-5")]
    [InlineData("updated", null)]
    public async Task A_tampered_head_is_a_format_error_naming_its_key_and_field(string field, string? value)
    {
        var store = await StoreAsync();
        await store.AppendAsync(_key, 0, [new SummaryEntry("sum", 1, 1, "m", 1, 1), .. Turns(2)]);
        await (value is null ? Db.HashDeleteAsync(KeyOf("h"), field) : Db.HashSetAsync(KeyOf("h"), field, value));

        Func<Task>[] reads =
        [
            () => store.GetHeadAsync(_key),
            () => store.ReadWindowAsync(_key, WindowSpec.All),
            () => store.ReadWindowAsync(_key, new WindowSpec { LastTokens = 2 }),
            () => store.ReadEntriesAsync(_key, 0, 10),
            () => store.AppendAsync(_key, 5, Turns(1)),
            () => store.ListThreadsAsync(_key.Tenant, null, new PageRequest()),
        ];

        foreach (var read in reads)
        {
            var error = await Assert.ThrowsAsync<LedgerFormatException>(read);
            Assert.Contains(KeyOf("h"), error.Message, StringComparison.Ordinal);
            Assert.Contains($"\"{field}\"", error.Message, StringComparison.Ordinal);
        }
    }

    private const string Row = """{"kind":"message","payload":"{\"role\":\"assistant\",\"content\":\"a\"}","target":null,"turn":null,"at":0,"tokens":1,"running_tokens":2,"running_messages":2}""";

    [SkippableTheory]
    [InlineData("{not json")]
    [InlineData("null")]
    [InlineData("\"tokens\":1,", "\"tokens\":1.5,")]
    [InlineData("\"kind\":\"message\",", "")]
    [InlineData("\"kind\":\"message\"", "\"kind\":\"nonsense\"")]
    [InlineData("\"at\":0,", "")]
    [InlineData("\"at\":0,", "\"at\":-1,")]
    [InlineData("""\"role\":\"assistant\",""", "")]
    [InlineData(null)]
    public async Task A_tampered_entry_is_a_format_error_naming_its_key_and_field(string? replace, string? with = null)
    {
        var store = await StoreAsync();
        await store.AppendAsync(_key, 0, Turns(2));
        // A whole row (as the store writes it) with one part changed, or text that is no row at all, or no row.
        var row = with is null ? replace : Row.Replace(replace!, with, StringComparison.Ordinal);
        Assert.NotEqual(Row, row);
        await (row is null ? Db.HashDeleteAsync(KeyOf("e"), 2) : Db.HashSetAsync(KeyOf("e"), 2, row));

        Func<Task>[] reads =
        [
            () => store.ReadEntriesAsync(_key, 0, 10),
            () => store.ReadWindowAsync(_key, WindowSpec.All),
        ];

        foreach (var read in reads)
        {
            var error = await Assert.ThrowsAsync<LedgerFormatException>(read);
            Assert.Contains(KeyOf("e"), error.Message, StringComparison.Ordinal);
            Assert.Contains("\"2\"", error.Message, StringComparison.Ordinal);
        }
    }
}
