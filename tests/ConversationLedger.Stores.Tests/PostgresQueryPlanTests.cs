using ConversationLedger.Postgres;
using Npgsql;

namespace ConversationLedger.Stores.Tests;

/// <summary>The window is a query, not a filter: on a long thread PostgreSQL answers it from indexes, never a scan of the entries.</summary>
/// <remarks>
/// In tables of its own (a schema per test): the shared tables' indexes keep the pages of every test's deleted rows, and
/// an index bloated like that can look dearer to the planner than a scan of the few rows left.
/// </remarks>
public sealed class PostgresQueryPlanTests : IAsyncLifetime
{
    private readonly string _schema = "plan_" + Guid.NewGuid().ToString("N");
    private NpgsqlDataSource? _source;

    [SkippableFact]
    public async Task The_window_query_never_scans_the_entries_table()
    {
        await using (var create = (await Servers.PostgresAsync()).CreateCommand($"CREATE SCHEMA {_schema}"))
        {
            await create.ExecuteNonQueryAsync();
        }
        var source = _source = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(Servers.Postgres) { SearchPath = _schema });
        var store = new PostgresConversationStore(source);
        var key = new ThreadKey("tenant", "scope", "long");
        var entries = Enumerable.Range(1, 5000).Select(i => (LedgerEntry)new MessageEntry(i % 2 == 1 ? Message.User($"q{i}") : Message.Assistant($"a{i}")) { Tokens = 10 }).ToArray();
        await store.AppendAsync(key, 0, entries);
        await using var connection = await source.OpenConnectionAsync();
        await using (var analyze = new NpgsqlCommand("ANALYZE entries", connection))
        {
            await analyze.ExecuteNonQueryAsync();
        }
        // A table of a few thousand rows (other tests' data comes and goes while this runs) is one the planner may rightly
        // scan; on a long-lived table it would not. Seq scans priced out, a scan still shows if no index can answer.
        await using (var noScans = new NpgsqlCommand("SET enable_seqscan = off", connection))
        {
            await noScans.ExecuteNonQueryAsync();
        }

        var plan = new List<string>();
        foreach (var sql in PostgresConversationStore.WindowQueries)
        {
            await using var command = new NpgsqlCommand("EXPLAIN " + sql, connection);
            command.Parameters.AddWithValue("t", key.Tenant);
            command.Parameters.AddWithValue("s", key.Scope);
            command.Parameters.AddWithValue("id", key.ThreadId);
            command.Parameters.AddWithValue("boundary", 0L);
            command.Parameters.AddWithValue("lo", 4981L);
            command.Parameters.AddWithValue("last", 5000L);
            command.Parameters.AddWithValue("kind", "summary");
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                plan.Add(reader.GetString(0));
            }
        }

        Assert.DoesNotContain(plan, line => line.Contains("Seq Scan on entries", StringComparison.Ordinal));
        Assert.Contains(plan, line => line.Contains("messages_by_ordinal", StringComparison.Ordinal));
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_source is null)
        {
            return;
        }
        await _source.DisposeAsync();
        await using var drop = (await Servers.PostgresAsync()).CreateCommand($"DROP SCHEMA {_schema} CASCADE");
        await drop.ExecuteNonQueryAsync();
    }
}
