namespace ConversationLedger.Server.Tests.Support;

/// <summary>
/// One service per test class (started once, shared by its tests). Without a PostgreSQL server the PostgreSQL hosts start
/// nothing, and their tests skip locally (fail under CI=true) when they ask for <see cref="Service"/>.
/// </summary>
public abstract class ServiceHost(Database database, int instances = 1, IReadOnlyDictionary<string, string>? settings = null) : IAsyncLifetime
{
    private ServiceFixture? _service;

    /// <summary>The service; skips (or fails in CI) when its database server is unreachable.</summary>
    public async Task<ServiceFixture> ServiceAsync()
    {
        if (_service is null)
        {
            await Servers.PostgresAsync(); // the only reason a host has no service
        }
        return _service!;
    }

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        if (database == Database.Postgres && !await Servers.PostgresReachableAsync())
        {
            return;
        }
        _service = await ServiceFixture.StartAsync(database, instances, settings);
    }

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        if (_service is not null)
        {
            await _service.DisposeAsync();
        }
    }
}

/// <summary>A service on SQLite.</summary>
public sealed class SqliteService() : ServiceHost(Database.Sqlite);

/// <summary>A service on PostgreSQL.</summary>
public sealed class PostgresService() : ServiceHost(Database.Postgres);

/// <summary>Two instances on one PostgreSQL database.</summary>
public sealed class TwoPostgresInstances() : ServiceHost(Database.Postgres, instances: 2);
