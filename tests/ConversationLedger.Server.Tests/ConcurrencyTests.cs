using System.Text.Json;
using ConversationLedger.Server.Tests.Support;

namespace ConversationLedger.Server.Tests;

/// <summary>
/// Two service processes on one PostgreSQL database: turns through either land in one valid history; concurrent turns on one
/// thread are one per sequence (the rest 409, or wait); idempotent retries are stored once, whichever instance they reach.
/// </summary>
public sealed class ConcurrencyTests(TwoPostgresInstances host) : IClassFixture<TwoPostgresInstances>
{
    [SkippableFact]
    public async Task Turns_sent_alternately_through_both_instances_land_in_one_history()
    {
        var service = await host.ServiceAsync();
        using var a = service.Client(service.AcmeKey, instance: 0);
        using var b = service.Client(service.AcmeKey, instance: 1);
        var path = await a.CreateThreadAsync("two", "alternate");
        for (var i = 0; i < 6; i++)
        {
            var reply = await (i % 2 == 0 ? a : b).TurnAsync(path, $"turn {i}");
            Assert.Equal(200, reply.Status);
            Assert.Contains($"I can see {2 * i + 1} message", reply["text"]);
        }
        await AssertValidHistoryAsync(a, path, expectedTurns: 6);
    }

    [SkippableFact]
    public async Task Fifty_concurrent_turns_through_both_instances_commit_one_per_sequence_and_lose_nothing()
    {
        var service = await host.ServiceAsync();
        using var a = service.Client(service.AcmeKey, instance: 0);
        using var b = service.Client(service.AcmeKey, instance: 1);
        var path = await a.CreateThreadAsync("two", "fifty");
        var replies = await Task.WhenAll(Enumerable.Range(0, 50).Select(i => (i % 2 == 0 ? a : b).TurnAsync(path, $"racer {i}")));
        Assert.All(replies, r => Assert.True(r.Status is 200 or 409, $"{r.Status} {r.Json}"));
        var won = replies.Where(r => r.Status == 200).ToArray();
        Assert.NotEmpty(won);
        Assert.Equal(won.Length, won.Select(r => r.Json.GetProperty("user").GetProperty("sequence").GetInt64()).Distinct().Count());
        var stored = await AssertValidHistoryAsync(a, path, expectedTurns: won.Length);
        Assert.Equal(won.Select(r => r.Json.GetProperty("user").GetProperty("content")[0].GetProperty("text").GetString()).Order(), stored.Order());
    }

    [SkippableFact]
    public async Task Fifty_concurrent_turns_that_ask_to_wait_all_commit_in_one_history()
    {
        var service = await host.ServiceAsync();
        using var a = service.Client(service.AcmeKey, instance: 0);
        using var b = service.Client(service.AcmeKey, instance: 1);
        var path = await a.CreateThreadAsync("two", "fifty-wait");
        var replies = await Task.WhenAll(Enumerable.Range(0, 50).Select(i => (i % 2 == 0 ? a : b).TurnAsync(path, $"patient {i}", new { wait = true })));
        Assert.All(replies, r => Assert.True(r.Status == 200, $"{r.Status} {r.Json}"));
        var stored = await AssertValidHistoryAsync(a, path, expectedTurns: 50);
        Assert.Equal(Enumerable.Range(0, 50).Select(i => $"patient {i}").Order(), stored.Order());
    }

    [SkippableFact]
    public async Task A_retried_turn_with_the_same_idempotency_key_is_stored_once_on_either_instance()
    {
        var service = await host.ServiceAsync();
        using var a = service.Client(service.AcmeKey, instance: 0);
        using var b = service.Client(service.AcmeKey, instance: 1);
        var path = await a.CreateThreadAsync("two", "idempotent");
        var key = new Dictionary<string, string> { ["Idempotency-Key"] = "order-7781-confirm" };
        var first = await a.TurnAsync(path, "confirm order 7781", headers: key);
        Assert.Equal(200, first.Status);
        var again = await b.TurnAsync(path, "confirm order 7781", headers: key);
        Assert.Equal(200, again.Status);
        Assert.Equal("true", again.Response.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Equal(first["id"], again["id"]);
        Assert.Equal(first["text"], again["text"]);
        var different = await a.TurnAsync(path, "cancel order 7781", headers: key);
        Assert.Equal(422, different.Status);
        Assert.Equal("idempotency-key-reused", different.Problem);
        await AssertValidHistoryAsync(a, path, expectedTurns: 1);
    }

    [SkippableFact]
    public async Task Concurrent_retries_with_one_key_run_one_turn()
    {
        var service = await host.ServiceAsync();
        using var a = service.Client(service.AcmeKey, instance: 0);
        using var b = service.Client(service.AcmeKey, instance: 1);
        var path = await a.CreateThreadAsync("two", "idempotent-race");
        var key = new Dictionary<string, string> { ["Idempotency-Key"] = "race-1" };
        service.Emulator.Faults.Enqueue("ttft:800");
        var replies = await Task.WhenAll(Enumerable.Range(0, 6).Select(i => (i % 2 == 0 ? a : b).TurnAsync(path, "only once", headers: key)));
        Assert.All(replies, r => Assert.True(r.Status is 200 or 409, $"{r.Status} {r.Json}"));
        Assert.Single(replies.Where(r => r.Status == 200).Select(r => r["id"]).Distinct());
        Assert.All(replies.Where(r => r.Status == 409), r => Assert.False(string.IsNullOrEmpty(r["turn_id"])));
        var settled = await b.TurnAsync(path, "only once", headers: key);
        Assert.Equal(200, settled.Status);
        await AssertValidHistoryAsync(a, path, expectedTurns: 1);
    }

    [SkippableFact]
    public async Task A_failed_turn_frees_its_idempotency_key_for_the_retry()
    {
        var service = await host.ServiceAsync();
        using var a = service.Client(service.AcmeKey, instance: 0);
        var path = await a.CreateThreadAsync("two", "idempotent-retry");
        var key = new Dictionary<string, string> { ["Idempotency-Key"] = "flaky-1" };
        service.Emulator.Faults.Enqueue("500", 3); // more than the SDK's retries
        var failed = await a.TurnAsync(path, "try me", headers: key);
        Assert.Equal(502, failed.Status);
        var retried = await a.TurnAsync(path, "try me", headers: key);
        Assert.Equal(200, retried.Status);
        Assert.False(retried.Response.Headers.Contains("Idempotent-Replayed"));
        await AssertValidHistoryAsync(a, path, expectedTurns: 1);
    }

    // The whole history: strict alternation, every turn's usage stored, nothing half-written. Returns the user texts.
    private static async Task<string[]> AssertValidHistoryAsync(ServiceClient api, string path, int expectedTurns)
    {
        var entries = (await api.GetAsync(path + "/entries?limit=1000")).Json.GetProperty("data").EnumerateArray().ToArray();
        var messages = entries.Where(e => e.GetProperty("kind").GetString() == "message").ToArray();
        Assert.Equal(2 * expectedTurns, messages.Length);
        for (var i = 0; i < messages.Length; i++)
        {
            Assert.Equal(i % 2 == 0 ? "user" : "assistant", messages[i].GetProperty("payload").GetProperty("role").GetString());
        }
        var turns = messages.GroupBy(m => m.GetProperty("turn_id").GetString()).ToArray();
        Assert.All(turns, t => Assert.Equal(2, t.Count()));
        // Each turn's usage is stored with it (summary calls, which the default policy makes on long threads, have their own).
        var turnIds = turns.Select(t => t.Key).ToHashSet();
        Assert.Equal(expectedTurns, entries.Count(e => e.GetProperty("kind").GetString() == "usage" && turnIds.Contains(e.GetProperty("turn_id").GetString())));
        Assert.Equal(entries.Select((e, i) => (long)i + 1), entries.Select(e => e.GetProperty("sequence").GetInt64()));
        // The service reads it back as valid (it checks strict alternation on load).
        Assert.Equal(200, (await api.GetAsync(path + "/messages?limit=1000")).Status);
        return messages.Where((_, i) => i % 2 == 0).Select(m => m.GetProperty("payload").GetProperty("content")[0].GetProperty("text").GetString()!).ToArray();
    }
}
