using System.Globalization;
using System.Text;
using ConversationLedger.Storage;
using StackExchange.Redis;

namespace ConversationLedger.Redis;

/// <summary>
/// A store on Redis (StackExchange.Redis). Each thread is a head hash, an entry hash (field = sequence) and
/// sorted-set indexes (messages by ordinal, messages by tokens before them, pins, edits by target), so every window
/// is a handful of range reads inside one Lua script. Appends run as one Lua script that checks the expected
/// sequence and writes everything (an append of thousands of entries is first staged in batches under temporary keys,
/// then checked and published by one script), so they are atomic and a lost race is a
/// <see cref="ConcurrencyConflictException"/>.
/// </summary>
/// <remarks>
/// <para><b>Durability</b> is the server's: an append is acknowledged when Redis has applied it in memory. For zero
/// acknowledged-turn loss run Redis with <c>appendonly yes</c> and <c>appendfsync always</c> (every write fsync'd
/// to the AOF before the reply); with <c>appendfsync everysec</c> up to a second of turns can be lost on a crash,
/// and without persistence everything is lost on restart.</para>
/// <para>Scripts compute key names from their arguments, so the store targets a single Redis server (or a primary
/// with replicas), not Redis Cluster. Thread-safe; share one instance (and one multiplexer) per process.</para>
/// </remarks>
public sealed partial class RedisConversationStore : IConversationStore, IAsyncDisposable, IDisposable
{
    /// <summary>The schema version this library writes and reads.</summary>
    public const int SchemaVersion = 1;

    private readonly IConnectionMultiplexer _redis;
    private readonly string _prefix;
    private readonly TimeProvider _time;
    private readonly SchemaGate _schema = new(SchemaVersion, "the Redis keys have", "ConversationLedger.Redis");
    // Set when the store opened the connection itself (Connect, ConnectAsync): it closes it when disposed.
    private readonly bool _ownsConnection;

    /// <summary>Creates a store over a connected multiplexer (owned by the caller, and not closed by the store).</summary>
    /// <param name="redis">The connection.</param>
    /// <param name="keyPrefix">Prefix of every key the store writes. <value>The default value is <c>cl:</c>.</value></param>
    /// <param name="timeProvider">The clock for recorded times; the system clock when null.</param>
    public RedisConversationStore(IConnectionMultiplexer redis, string keyPrefix = "cl:", TimeProvider? timeProvider = null)
        : this(redis ?? throw new ArgumentNullException(nameof(redis)), keyPrefix, timeProvider, ownsConnection: false)
    {
        ArgumentException.ThrowIfNullOrEmpty(keyPrefix);
    }

    private RedisConversationStore(IConnectionMultiplexer redis, string keyPrefix, TimeProvider? timeProvider, bool ownsConnection)
    {
        _redis = redis;
        _prefix = keyPrefix;
        _time = timeProvider ?? TimeProvider.System;
        _ownsConnection = ownsConnection;
    }

    /// <summary>
    /// Connects to Redis and creates a store that owns the connection: disposing the store closes it. For a process that
    /// uses Redis for nothing else; otherwise share one multiplexer and pass it to the constructor.
    /// </summary>
    /// <param name="configuration">A StackExchange.Redis configuration string (<c>localhost:6379</c>).</param>
    /// <param name="keyPrefix">Prefix of every key the store writes. <value>The default value is <c>cl:</c>.</value></param>
    /// <param name="timeProvider">The clock for recorded times; the system clock when null.</param>
    /// <exception cref="RedisConnectionException">Redis could not be reached.</exception>
    public static RedisConversationStore Connect(string configuration, string keyPrefix = "cl:", TimeProvider? timeProvider = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(configuration);
        ArgumentException.ThrowIfNullOrEmpty(keyPrefix);
        return new RedisConversationStore(ConnectionMultiplexer.Connect(configuration), keyPrefix, timeProvider, ownsConnection: true);
    }

    /// <summary>Connects to Redis without blocking and creates a store that owns the connection (see <see cref="Connect"/>).</summary>
    /// <param name="configuration">A StackExchange.Redis configuration string (<c>localhost:6379</c>).</param>
    /// <param name="keyPrefix">Prefix of every key the store writes. <value>The default value is <c>cl:</c>.</value></param>
    /// <param name="timeProvider">The clock for recorded times; the system clock when null.</param>
    /// <param name="cancellationToken">Stops waiting for the connection.</param>
    /// <exception cref="RedisConnectionException">Redis could not be reached.</exception>
    public static async Task<RedisConversationStore> ConnectAsync(string configuration, string keyPrefix = "cl:", TimeProvider? timeProvider = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(configuration);
        ArgumentException.ThrowIfNullOrEmpty(keyPrefix);
        var redis = await ConnectionMultiplexer.ConnectAsync(configuration).WaitAsync(cancellationToken);
        return new RedisConversationStore(redis, keyPrefix, timeProvider, ownsConnection: true);
    }

    /// <summary>Closes the connection when the store opened it (<see cref="Connect"/>, <see cref="ConnectAsync"/>); a caller's stays open.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_ownsConnection)
        {
            await _redis.DisposeAsync();
        }
        _schema.Dispose();
    }

    /// <summary>Closes the connection when the store opened it, as <see cref="DisposeAsync"/> does, blocking until it is closed.</summary>
    public void Dispose()
    {
        if (_ownsConnection)
        {
            _redis.Dispose();
        }
        _schema.Dispose();
    }

    private IDatabase Db => _redis.GetDatabase();

    /// <inheritdoc />
    public async Task<ThreadHead> GetHeadAsync(ThreadKey key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        await EnsureSchemaAsync(cancellationToken);
        var fields = await Db.HashGetAllAsync(Keys(key).Head).WaitAsync(cancellationToken);
        return ParseHead(key, fields.Select(f => ((string)f.Name!, f.Value)));
    }

    private Task EnsureSchemaAsync(CancellationToken cancellationToken) =>
        _schema.IsReady ? Task.CompletedTask : _schema.EnsureAsync(StampSchemaAsync, cancellationToken);

    // Stamps the version on first use, or checks the one found.
    private async Task StampSchemaAsync(CancellationToken cancellationToken)
    {
        RedisKey versionKey = _prefix + "schema_version";
        await Db.StringSetAsync(versionKey, SchemaVersion, when: When.NotExists).WaitAsync(cancellationToken);
        _schema.ThrowIfNewer(Number(versionKey, null, await Db.StringGetAsync(versionKey).WaitAsync(cancellationToken)));
    }

    // Length-prefixed parts: unambiguous whatever characters the parts hold (and never "staging:…").
    private ThreadKeys Keys(ThreadKey key) => Keys(Part(key.Tenant) + Part(key.Scope) + Part(key.ThreadId));

    private ThreadKeys Keys(string id) => new(_prefix + "h:" + id, _prefix + "e:" + id, _prefix + "m:" + id, _prefix + "k:" + id,
        _prefix + "p:" + id, _prefix + "d:" + id);

    private RedisKey LeaseKey(ThreadKey key) => _prefix + "l:" + Part(key.Tenant) + Part(key.Scope) + Part(key.ThreadId);

    private RedisKey TenantIndex(string tenant) => _prefix + "tn:" + Part(tenant);

    private RedisKey ScopeIndex(string tenant, string scope) => _prefix + "ts:" + Part(tenant) + Part(scope);

    // The length is in UTF-8 bytes, as Lua's string.len counts it (the list script rebuilds key names).
    private static string Part(string value) =>
        Encoding.UTF8.GetByteCount(value).ToString(CultureInfo.InvariantCulture) + ":" + value;

    // Listing order by byte order: inverted update time (fixed width), then scope and thread id after a \0 separator,
    // which sorts below every character a key part may hold (control characters are refused).
    private static string Member(DateTimeOffset updatedAt, string scope, string threadId) =>
        $"{(long.MaxValue - updatedAt.UtcTicks).ToString("D19", CultureInfo.InvariantCulture)}\0{scope}\0{threadId}";

    private static (long Ticks, string Scope, string ThreadId) ParseMember(string member)
    {
        var parts = member.Split('\0');
        return (long.MaxValue - long.Parse(parts[0], CultureInfo.InvariantCulture), parts[1], parts[2]);
    }

    private sealed record ThreadKeys(string Head, string Entries, string Messages, string Tokens, string Pins, string Edits);
}
