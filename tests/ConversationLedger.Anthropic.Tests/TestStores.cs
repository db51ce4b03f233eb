using ConversationLedger.Postgres;
using ConversationLedger.Redis;
using ConversationLedger.Sqlite;

namespace ConversationLedger.Anthropic.Tests;

/// <summary>
/// A store of each kind for the load tests, holding its data under one tenant of its own and removing it on dispose.
/// PostgreSQL and Redis are the shared test servers (skipped locally when missing, failing when CI=true).
/// </summary>
public sealed class TestStores : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("ledger-load-").FullName;
    private readonly List<IConversationStore> _opened = [];

    public static TheoryData<string> Kinds => ["sqlite", "postgres", "redis"];

    /// <summary>The tenant every thread of a test goes under.</summary>
    public string Tenant { get; } = "load-" + Guid.NewGuid().ToString("N");

    public async Task<IConversationStore> OpenAsync(string kind)
    {
        IConversationStore store = kind switch
        {
            "sqlite" => new SqliteConversationStore(Path.Combine(_directory, "ledger.db")),
            "postgres" => new PostgresConversationStore(await Servers.PostgresAsync()),
            "redis" => new RedisConversationStore(await Servers.RedisAsync()),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown store"),
        };
        _opened.Add(store);
        return store;
    }

    public void Dispose()
    {
        foreach (var store in _opened)
        {
            store.DeleteTenantAsync(Tenant).GetAwaiter().GetResult();
        }
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
