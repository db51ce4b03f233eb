using ConversationLedger.Server.Tests.Support;
using Npgsql;

namespace ConversationLedger.Server.Tests;

/// <summary>A PostgreSQL store that refuses connections is the store's trouble, not a bug: 503 store-unavailable, not 500.</summary>
public sealed class StoreUnavailableTests
{
    [SkippableFact]
    public async Task A_store_out_of_connections_answers_503_store_unavailable_with_retry_after()
    {
        // Given a role PostgreSQL refuses as it refuses everyone when it has no slot left (SQLSTATE 53300), as the store's user,
        // and the service's own tables elsewhere so the key still authenticates.
        var admin = await Servers.PostgresAsync();
        var role = "ledger_full_" + Guid.NewGuid().ToString("N")[..12];
        await using (var create = admin.CreateCommand($"CREATE ROLE {role} LOGIN CONNECTION LIMIT 0"))
        {
            await create.ExecuteNonQueryAsync();
        }
        var service = await ServiceFixture.StartAsync(Database.Sqlite, instances: 0);
        try
        {
            var store = new NpgsqlConnectionStringBuilder(Servers.Postgres) { Username = role, Pooling = false };
            await service.AddInstanceAsync(new Dictionary<string, string>
            {
                ["Server:Store"] = "postgres:" + store.ConnectionString,
                ["Server:State"] = service.Store,
            });
            using var api = service.Client(service.AcmeKey);

            // When a request needs the store (creating a thread looks for its ledger)
            var reply = await api.PostAsync("/v1/threads", new { scope = "full", id = "t" });

            // Then the client is told to retry, and why
            Assert.Equal(503, reply.Status);
            Assert.Equal("store-unavailable", reply.Problem);
            Assert.Equal("1", reply.Response.Headers.RetryAfter?.ToString());
        }
        finally
        {
            await service.DisposeAsync();
            await using var drop = admin.CreateCommand($"DROP ROLE IF EXISTS {role}");
            await drop.ExecuteNonQueryAsync();
        }
    }
}
