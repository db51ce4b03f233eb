using Npgsql;
using StackExchange.Redis;

namespace ConversationLedger.Stores.Tests;

/// <summary>
/// The real servers the PostgreSQL and Redis tests need (start them with <c>bash scripts/services.sh start</c>).
/// An unreachable server skips those tests locally and fails them when CI=true, so CI never passes by skipping. The
/// first skip of a run also says, once, which servers are missing and how to start them (<see cref="Notice"/>).
/// </summary>
internal static class Servers
{
    /// <summary>The command that starts both servers, from the repository's root.</summary>
    public const string StartCommand = "bash scripts/services.sh start";

    private static int _noticed;

    /// <summary>
    /// Hears, once per test assembly, the line saying which servers are missing; set by <c>ServersNotice</c>
    /// where a project uses it (its line then shows in <c>dotnet test</c>'s output), else nothing hears it.
    /// </summary>
    public static Action<string>? Notice { get; set; }

    public static string Postgres { get; } =
        Environment.GetEnvironmentVariable("LEDGER_TEST_POSTGRES") is { Length: > 0 } pg ? pg : "Host=127.0.0.1;Port=55432;Username=postgres;Database=postgres";

    public static string Redis { get; } =
        Environment.GetEnvironmentVariable("LEDGER_TEST_REDIS") is { Length: > 0 } r ? r : "127.0.0.1:56379";

    public static bool InCi { get; } = string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    private static readonly Lazy<Task<(NpgsqlDataSource? Source, string? Error)>> PostgresProbe = new(async () =>
    {
        var source = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(Postgres) { Timeout = 3, MaxPoolSize = 100 }.ConnectionString);
        try
        {
            await using var connection = await source.OpenConnectionAsync();
            return (source, null);
        }
        catch (Exception ex) when (ex is NpgsqlException or System.Net.Sockets.SocketException or TimeoutException)
        {
            await source.DisposeAsync();
            return (null, ex.Message);
        }
    });

    private static readonly Lazy<Task<(ConnectionMultiplexer? Redis, string? Error)>> RedisProbe = new(async () =>
    {
        try
        {
            var options = ConfigurationOptions.Parse(Redis);
            options.AbortOnConnectFail = true;
            options.ConnectTimeout = 3000;
            return (await ConnectionMultiplexer.ConnectAsync(options), null);
        }
        catch (RedisConnectionException ex)
        {
            return (null, ex.Message);
        }
    });

    /// <summary>The shared PostgreSQL data source; skips (or fails in CI) when the server is unreachable.</summary>
    public static async Task<NpgsqlDataSource> PostgresAsync()
    {
        var (source, error) = await PostgresProbe.Value;
        await RequireAsync(source is not null, $"PostgreSQL at {Postgres} is unreachable ({error})");
        return source!;
    }

    /// <summary>Whether the PostgreSQL test server answers (without skipping or failing).</summary>
    public static async Task<bool> PostgresReachableAsync() => (await PostgresProbe.Value).Source is not null;

    /// <summary>The shared Redis connection; skips (or fails in CI) when the server is unreachable.</summary>
    public static async Task<ConnectionMultiplexer> RedisAsync()
    {
        var (redis, error) = await RedisProbe.Value;
        await RequireAsync(redis is not null, $"Redis at {Redis} is unreachable ({error})");
        return redis!;
    }

    /// <summary>The line saying which servers are missing and how to start them; null when none is.</summary>
    public static string? MissingLine(bool postgresMissing, bool redisMissing)
    {
        var missing = new List<string>();
        if (postgresMissing)
        {
            var pg = new NpgsqlConnectionStringBuilder(Postgres);
            missing.Add($"PostgreSQL ({pg.Host}:{pg.Port})");
        }
        if (redisMissing)
        {
            missing.Add($"Redis ({string.Join(", ", ConfigurationOptions.Parse(Redis).EndPoints)})");
        }
        return missing.Count == 0 ? null
            : $"{string.Join(" and ", missing)} not running: the tests that need {(missing.Count == 1 ? "it" : "them")} are skipped. "
                + $"Start {(missing.Count == 1 ? "it" : "both")} with: {StartCommand} (with CI=true these tests fail instead)";
    }

    private static async Task RequireAsync(bool reachable, string problem)
    {
        if (reachable)
        {
            return;
        }
        if (InCi)
        {
            throw new InvalidOperationException($"{problem}; CI=true, so this is a failure, not a skip");
        }
        if (Interlocked.Exchange(ref _noticed, 1) == 0 && Notice is { } notice)
        {
            var postgres = (await PostgresProbe.Value).Source is null;
            var redis = (await RedisProbe.Value).Redis is null;
            if (MissingLine(postgres, redis) is { } line)
            {
                notice(line);
            }
        }
        Skip.If(true, $"{problem}; start it with {StartCommand}");
    }
}
