using System.Net.ServerSentEvents;
using System.Text.Json;
using ConversationLedger.Anthropic;
using ConversationLedger.Emulator;
using ConversationLedger.Server.Operations;
using ConversationLedger.Server.State;
using ConversationLedger.Server.Tests.Support;
using ConversationLedger.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace ConversationLedger.Server.Tests;

/// <summary>Health, readiness, the API reference, retention and graceful shutdown.</summary>
public sealed class OperationsTests(SqliteService host) : IClassFixture<SqliteService>
{
    [SkippableFact]
    public async Task Health_readiness_and_the_API_reference_answer_without_credentials()
    {
        var service = await host.ServiceAsync();
        using var anonymous = service.Client(null);
        Assert.Equal("ok", (await anonymous.GetAsync("/health"))["status"]);
        var ready = await anonymous.GetAsync("/ready");
        Assert.Equal(200, ready.Status);
        Assert.True(ready.Json.GetProperty("store").GetBoolean() && ready.Json.GetProperty("state").GetBoolean());
        var openapi = await anonymous.GetAsync("/openapi/v1.json");
        Assert.Equal(200, openapi.Status);
        var paths = openapi.Json.GetProperty("paths");
        foreach (var route in new[] { "/v1/threads", "/v1/threads/{scope}/{id}", "/v1/threads/{scope}/{id}/turns", "/v1/threads/{scope}/{id}/turns/{turnId}/events", "/v1/threads/{scope}/{id}/usage" })
        {
            Assert.True(paths.TryGetProperty(route, out _), route);
        }
        var docs = await anonymous.Http.GetAsync("/docs");
        Assert.Equal(200, (int)docs.StatusCode);
        Assert.Contains("<html", await docs.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
    }

    [SkippableFact]
    public async Task Shutdown_lets_a_turn_in_flight_finish_and_then_exits_cleanly()
    {
        var service = await host.ServiceAsync();
        var instance = await service.AddInstanceAsync();
        using var api = service.Client(service.AcmeKey, service.Instances.Count - 1);
        var path = await api.CreateThreadAsync("ops", "graceful");
        service.Emulator.Faults.Enqueue("tps:20");
        var events = new List<SseItem<string>>();
        var terminated = Task.FromResult(-1);
        await using (var stream = await StreamingTests.OpenStreamAsync(api, path, "finish me please"))
        {
            await foreach (var e in stream.Events)
            {
                events.Add(e);
                if (events.Count == 2)
                {
                    terminated = instance.TerminateAsync(TimeSpan.FromSeconds(40));
                }
            }
        }
        Assert.Equal("turn_committed", events[^1].EventType);
        Assert.Equal(0, await terminated);
        Assert.False(instance.Running);
        Assert.Equal(StreamingTests.Assemble(events), await StreamingTests.StoredReplyAsync(service.Client(service.AcmeKey), path));
    }

    [SkippableFact]
    public async Task Shutdown_cancels_a_turn_that_outlasts_the_grace_period_and_stores_nothing()
    {
        var service = await host.ServiceAsync();
        var instance = await service.AddInstanceAsync(new Dictionary<string, string> { ["Server:ShutdownGrace"] = "00:00:01" });
        using var api = service.Client(service.AcmeKey, service.Instances.Count - 1);
        var path = await api.CreateThreadAsync("ops", "too-slow");
        service.Emulator.Faults.Enqueue("ttft:20000");
        var calls = service.Emulator.Requests.Received;
        await using var stream = await StreamingTests.OpenStreamAsync(api, path, "this will not finish");
        var events = new List<SseItem<string>>();
        var terminated = Task.CompletedTask;
        await foreach (var e in stream.Events)
        {
            events.Add(e);
            if (e.EventType == "turn_started")
            {
                // Once the model call is under way (and has taken the slow fault), the service is told to stop.
                while (service.Emulator.Requests.Received == calls)
                {
                    await Task.Delay(20);
                }
                terminated = instance.TerminateAsync(TimeSpan.FromSeconds(40));
            }
        }
        Assert.Equal("error", events[^1].EventType);
        Assert.Equal("urn:conversation-ledger:problem:shutting-down", JsonDocument.Parse(events[^1].Data).RootElement.GetProperty("type").GetString());
        await terminated;
        using var survivor = service.Client(service.AcmeKey);
        await survivor.AssertNoTurnStoredAsync(path);
    }

    [Fact]
    public async Task Retention_archives_or_erases_threads_idle_past_their_days_and_says_so()
    {
        var folder = Directory.CreateTempSubdirectory("ledger-retention-").FullName;
        try
        {
            var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
            var path = Path.Combine(folder, "ledger.db");
            await using var state = ServiceState.Sqlite(path, time);
            await using var emulator = new EmulatorServer();
            await emulator.StartAsync();
            var ledger = new Ledger(new SqliteConversationStore(path, timeProvider: time),
                new AnthropicModelClient(new AnthropicModelClientOptions { BaseUrl = emulator.BaseUrl, ApiKey = "emulator" }),
                new LedgerOptions { Model = "claude-opus-4-1" });
            ThreadKey Key(string tenant, string id) => new(tenant, "s", id);
            foreach (var (tenant, id, days) in new[] { ("acme", "old", (int?)null), ("acme", "kept-longer", 90), ("acme", "fresh", null), ("strict", "old", null) })
            {
                await state.CreateThreadAsync(new ThreadInfo { Key = Key(tenant, id), RetentionDays = days });
                await ledger.Open(Key(tenant, id)).SendAsync("hello");
                await state.RecordActivityAsync(await ledger.Store.GetHeadAsync(Key(tenant, id)), []);
                if (id == "old")
                {
                    time.Advance(TimeSpan.FromDays(1));
                }
            }
            time.Advance(TimeSpan.FromDays(40));
            await state.RecordActivityAsync(await ledger.Store.GetHeadAsync(Key("acme", "fresh")), []);
            var settings = new ServerOptions { RetentionDays = 30, TenantRetentionDays = { ["strict"] = 7 } };
            var logs = new Microsoft.Extensions.Logging.Testing.FakeLogger<RetentionService>();
            var retention = new RetentionService(ledger, state, Options.Create(settings), logs, time);

            Assert.Equal(2, await retention.RunOnceAsync(CancellationToken.None));
            var archived = await state.GetThreadAsync(Key("acme", "old"));
            Assert.NotNull(archived!.ArchivedAt);
            Assert.Empty((await ledger.Open(Key("acme", "old")).LoadAsync()).Messages); // a reset entry: the archive stays readable
            Assert.Null((await state.GetThreadAsync(Key("acme", "kept-longer")))!.ArchivedAt);
            Assert.Null((await state.GetThreadAsync(Key("acme", "fresh")))!.ArchivedAt);
            Assert.NotNull((await state.GetThreadAsync(Key("strict", "old")))!.ArchivedAt);
            Assert.Contains(logs.Collector.GetSnapshot(), r => r.Message.Contains("archived thread old in scope s of tenant strict", StringComparison.Ordinal));
            Assert.Equal(0, await retention.RunOnceAsync(CancellationToken.None));
            Assert.DoesNotContain((await state.ListThreadsAsync("acme", new ThreadQuery(), null, 10)).Threads, t => t.Key.ThreadId == "old");

            time.Advance(TimeSpan.FromDays(60));
            settings.RetentionAction = "erase";
            Assert.Equal(2, await retention.RunOnceAsync(CancellationToken.None)); // kept-longer (90 days) and fresh (30)
            Assert.Null(await state.GetThreadAsync(Key("acme", "kept-longer")));
            Assert.False((await ledger.Store.GetHeadAsync(Key("acme", "kept-longer"))).Exists);
            Assert.Contains(logs.Collector.GetSnapshot(), r => r.Message.Contains("erased thread kept-longer", StringComparison.Ordinal));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    }
}
