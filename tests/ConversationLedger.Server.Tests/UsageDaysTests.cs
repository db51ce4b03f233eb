using ConversationLedger.Server.State;
using ConversationLedger.Stores.Tests;
using ConversationLedger.Server.Tests.Support;
using Npgsql;

namespace ConversationLedger.Server.Tests;

/// <summary>A tenant's usage per day, written by many turns at once: every call counted once, in its tenant's day only.</summary>
public sealed class UsageDaysTests
{
    [SkippableTheory]
    [InlineData(Database.Sqlite)]
    [InlineData(Database.Postgres)]
    public async Task Calls_recorded_concurrently_add_up_exactly_per_tenant_and_day(Database database)
    {
        await using var owned = await OwnedStateAsync(database);
        var state = owned.State;
        await state.EnsureSchemaAsync();
        var calls = Enumerable.Range(0, 200).Select(i => new UsageRecord("claude-haiku-4-5",
            new TokenUsage { InputTokens = 10 + i, OutputTokens = 3, CacheReadInputTokens = i % 7, CacheCreationInputTokens = i % 5 }, 0.000_123m * (i + 1))).ToList();

        // 100 turns of one tenant at once on 10 threads, two calls each (a summary and the reply), and one other tenant's turn.
        await Parallel.ForEachAsync(Enumerable.Range(0, 100), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, token) =>
            await state.RecordActivityAsync(new ThreadHead { Key = new ThreadKey("acme", "s", "t" + i % 10) }, [calls[2 * i], calls[2 * i + 1]], token));
        await state.RecordActivityAsync(new ThreadHead { Key = new ThreadKey("globex", "s", "t") }, [calls[0]]);

        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        var day = Assert.Single(await state.ListUsageDaysAsync("acme", today.AddDays(-1), today.AddDays(1)));
        Assert.Equal(today, day.Day);
        Assert.Equal(200, day.Calls);
        Assert.Equal(calls.Sum(c => c.Usage.InputTokens), day.InputTokens);
        Assert.Equal(calls.Sum(c => c.Usage.OutputTokens), day.OutputTokens);
        Assert.Equal(calls.Sum(c => c.Usage.CacheReadInputTokens), day.CacheReadInputTokens);
        Assert.Equal(calls.Sum(c => c.Usage.CacheCreationInputTokens), day.CacheCreationInputTokens);
        Assert.Equal(calls.Sum(c => c.CostUsd), day.CostUsd);
        Assert.Equal(1, Assert.Single(await state.ListUsageDaysAsync("globex", today, today)).Calls);

        await state.DeleteTenantAsync("acme");
        Assert.Empty(await state.ListUsageDaysAsync("acme", today.AddDays(-1), today.AddDays(1)));
        Assert.Single(await state.ListUsageDaysAsync("globex", today, today));
    }

    private static async Task<OwnedState> OwnedStateAsync(Database database)
    {
        if (database == Database.Sqlite)
        {
            var folder = Directory.CreateTempSubdirectory("ledger-usage-days-").FullName;
            return new OwnedState(ServiceState.Sqlite(Path.Combine(folder, "ledger.db")), () =>
            {
                Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
                Directory.Delete(folder, recursive: true);
                return Task.CompletedTask;
            });
        }
        var admin = await Servers.PostgresAsync();
        var name = "ledger_usage_" + Guid.NewGuid().ToString("N")[..12];
        await using (var create = admin.CreateCommand($"CREATE DATABASE {name}"))
        {
            await create.ExecuteNonQueryAsync();
        }
        return new OwnedState(ServiceState.Postgres(new NpgsqlConnectionStringBuilder(Servers.Postgres) { Database = name }.ConnectionString), async () =>
        {
            NpgsqlConnection.ClearAllPools();
            await using var drop = admin.CreateCommand($"DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            await drop.ExecuteNonQueryAsync();
        });
    }

    private sealed class OwnedState(ServiceState state, Func<Task> cleanUp) : IAsyncDisposable
    {
        public ServiceState State { get; } = state;

        public async ValueTask DisposeAsync()
        {
            await State.DisposeAsync();
            await cleanUp();
        }
    }
}
