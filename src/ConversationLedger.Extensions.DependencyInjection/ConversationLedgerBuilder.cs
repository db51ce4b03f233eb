using ConversationLedger.Anthropic;
using ConversationLedger.Emulator;
using ConversationLedger.Extensions.DependencyInjection;
using ConversationLedger.Postgres;
using ConversationLedger.Redis;
using ConversationLedger.Sqlite;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Npgsql;
using StackExchange.Redis;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Chooses the store and the model of the ledger registered by <c>AddConversationLedger</c>. Each <c>Use*</c> replaces an
/// earlier choice of the same kind. What a <c>Use*</c> creates (a store, a Redis connection, an emulator) belongs to the
/// container, which disposes it; what the caller passes in (a data source, a multiplexer) stays the caller's.
/// </summary>
public sealed class ConversationLedgerBuilder
{
    internal ConversationLedgerBuilder(IServiceCollection services) => Services = services;

    /// <summary>The service collection.</summary>
    public IServiceCollection Services { get; }

    /// <summary>Keeps threads in memory (lost when the process ends; for tests and demos).</summary>
    public ConversationLedgerBuilder UseInMemory() => Store(_ => new ConversationLedger.InMemoryConversationStore());

    /// <summary>Keeps threads in a SQLite file (created when missing); several processes may share it.</summary>
    public ConversationLedgerBuilder UseSqlite(string pathOrConnectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(pathOrConnectionString);
        return Store(_ => new SqliteConversationStore(pathOrConnectionString));
    }

    /// <summary>
    /// Keeps threads in PostgreSQL; the container owns the connection pool (with the store's defaults,
    /// <see cref="PostgresConversationStore.CreateDataSourceBuilder"/>), which logs through the container's
    /// <see cref="Microsoft.Extensions.Logging.ILoggerFactory"/>. Npgsql's own spans and metrics are named "Npgsql"
    /// (<c>AddNpgsql()</c> from Npgsql.OpenTelemetry, or <c>AddSource("Npgsql")</c> / <c>AddMeter("Npgsql")</c>).
    /// </summary>
    public ConversationLedgerBuilder UsePostgres(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        Services.RemoveAll<LedgerNpgsqlDataSource>();
        Services.AddSingleton(sp => new LedgerNpgsqlDataSource(PostgresConversationStore.CreateDataSourceBuilder(connectionString)
            .UseLoggerFactory(sp.GetService<Microsoft.Extensions.Logging.ILoggerFactory>())
            .Build()));
        return Store(sp => new PostgresConversationStore(sp.GetRequiredService<LedgerNpgsqlDataSource>().DataSource));
    }

    /// <summary>Keeps threads in PostgreSQL through the caller's data source (not disposed by the container).</summary>
    public ConversationLedgerBuilder UsePostgres(NpgsqlDataSource dataSource)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        return Store(_ => new PostgresConversationStore(dataSource));
    }

    /// <summary>Keeps threads in Redis, connecting with a StackExchange.Redis configuration string; the container owns the store and so its connection.</summary>
    public ConversationLedgerBuilder UseRedis(string configuration, string keyPrefix = "cl:")
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(configuration);
        // The store opens the connection and closes it when the container disposes the store.
        return Store(_ => RedisConversationStore.Connect(configuration, keyPrefix));
    }

    /// <summary>Keeps threads in Redis through the caller's connection (not disposed by the container).</summary>
    public ConversationLedgerBuilder UseRedis(IConnectionMultiplexer redis, string keyPrefix = "cl:")
    {
        ArgumentNullException.ThrowIfNull(redis);
        return Store(_ => new RedisConversationStore(redis, keyPrefix));
    }

    /// <summary>
    /// Talks to Claude through the official Anthropic SDK. Without <paramref name="configure"/> the key and base URL come from
    /// <c>ANTHROPIC_API_KEY</c> and <c>ANTHROPIC_BASE_URL</c>.
    /// </summary>
    public ConversationLedgerBuilder UseAnthropic(Action<AnthropicModelClientOptions>? configure = null)
    {
        var options = new AnthropicModelClientOptions();
        configure?.Invoke(options);
        return Model(_ => new AnthropicModelClient(options));
    }

    /// <summary>
    /// Talks to an emulator of the Messages API started in this process (on a free loopback port) by a hosted service when the
    /// host starts, and stopped with the container; a call made before the host started starts it first. The
    /// <see cref="EmulatorServer"/> is registered too (its request log, scripts and faults).
    /// </summary>
    public ConversationLedgerBuilder UseEmulator(EmulatorOptions? options = null)
    {
        Services.RemoveAll<InProcessEmulator>();
        Services.RemoveAll<EmulatorServer>();
        Services.AddSingleton(_ => new InProcessEmulator(new EmulatorServer(options)));
        Services.AddSingleton(sp => sp.GetRequiredService<InProcessEmulator>().Server);
        Services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, EmulatorHostedService>());
        return Model(sp => new EmulatorModelClient(sp.GetRequiredService<InProcessEmulator>()));
    }

    /// <summary>Talks to an emulator (or any Messages API) already running at <paramref name="baseUrl"/>.</summary>
    public ConversationLedgerBuilder UseEmulator(string baseUrl)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(baseUrl);
        return UseAnthropic(o =>
        {
            o.BaseUrl = baseUrl;
            o.ApiKey ??= "emulator";
        });
    }

    /// <summary>Replaces the model table, token counter or calibration the ledger works with.</summary>
    public ConversationLedgerBuilder UseServices(ConversationLedger.LedgerServices services)
    {
        ArgumentNullException.ThrowIfNull(services);
        Services.RemoveAll<ConversationLedger.LedgerServices>();
        Services.AddSingleton(services);
        return this;
    }

    private ConversationLedgerBuilder Store(Func<IServiceProvider, ConversationLedger.IConversationStore> factory)
    {
        Services.RemoveAll<ConversationLedger.IConversationStore>();
        Services.AddSingleton(factory);
        return this;
    }

    private ConversationLedgerBuilder Model(Func<IServiceProvider, ConversationLedger.IModelClient> factory)
    {
        Services.RemoveAll<ConversationLedger.IModelClient>();
        Services.AddSingleton(factory);
        return this;
    }
}
