using ConversationLedger.Postgres;
using ConversationLedger.Redis;
using ConversationLedger.Sqlite;

namespace ConversationLedger.Stores.Tests;

public sealed class InMemoryStoreTests : ConversationStoreContract
{
    private InMemoryConversationStore? _store;

    // One store per test: "a fresh store over the same data" is the same instance here.
    protected override Task<IConversationStore> CreateStoreAsync(TimeProvider clock) =>
        Task.FromResult<IConversationStore>(_store ??= new InMemoryConversationStore(clock));
}

public sealed class SqliteStoreTests : ConversationStoreContract, IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("ledger-sqlite-").FullName;

    protected override Task<IConversationStore> CreateStoreAsync(TimeProvider clock) =>
        Task.FromResult<IConversationStore>(new SqliteConversationStore(Path.Combine(_directory, "ledger.db"), timeProvider: clock));

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}

public sealed class PostgresStoreTests : ConversationStoreContract, IAsyncLifetime
{
    protected override async Task<IConversationStore> CreateStoreAsync(TimeProvider clock) =>
        new PostgresConversationStore(await Servers.PostgresAsync(), clock);

    public Task InitializeAsync() => Task.CompletedTask;

    // Leave the shared database as we found it.
    public async Task DisposeAsync()
    {
        try
        {
            await new PostgresConversationStore(await Servers.PostgresAsync()).DeleteTenantAsync(Tenant);
        }
        catch (Exception ex) when (ex is SkipException or InvalidOperationException)
        {
            // Cleanup is best effort: the test itself already reported the unreachable server.
        }
    }
}

public sealed class RedisStoreTests : ConversationStoreContract, IAsyncLifetime
{
    protected override async Task<IConversationStore> CreateStoreAsync(TimeProvider clock) =>
        new RedisConversationStore(await Servers.RedisAsync(), timeProvider: clock);

    protected override bool RunsHugeAppendsAlways => true;

    // Redis keeps the port's default: the lease is released after the append, by the turn.
    protected override bool EndsTurnLeasesWithAppends => false;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        try
        {
            await new RedisConversationStore(await Servers.RedisAsync()).DeleteTenantAsync(Tenant);
        }
        catch (Exception ex) when (ex is SkipException or InvalidOperationException)
        {
            // Cleanup is best effort: the test itself already reported the unreachable server.
        }
    }
}
