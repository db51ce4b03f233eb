using System.Net.ServerSentEvents;
using System.Text;
using System.Text.Json;
using ConversationLedger.Server.Tests.Support;

namespace ConversationLedger.Server.Tests;

/// <summary>Two instances on one SQLite file, so a stream dropped on one can be re-attached on the other.</summary>
public sealed class TwoSqliteInstances() : ServiceHost(Database.Sqlite, instances: 2);

/// <summary>
/// Streamed turns read with an off-the-shelf SSE client (System.Net.ServerSentEvents): every event has an id, a dropped client
/// re-attaches with Last-Event-ID (on the same instance or another) and assembles exactly the stored reply, a dropped client
/// does not cancel the turn unless it asked to, and a cancelled turn stores no turn (what it was billed is in the usage log).
/// </summary>
public sealed class StreamingTests(TwoSqliteInstances host) : IClassFixture<TwoSqliteInstances>
{
    [SkippableFact]
    public async Task A_streamed_turn_carries_deltas_with_ids_and_ends_with_the_committed_turn()
    {
        var service = await host.ServiceAsync();
        using var api = service.Client(service.AcmeKey);
        var path = await api.CreateThreadAsync("stream", "whole");
        await using var stream = await OpenStreamAsync(api, path, "tell me a story");
        var events = await ReadAllAsync(stream.Events);
        Assert.Equal("turn_started", events[0].EventType);
        Assert.All(events, e => Assert.False(string.IsNullOrEmpty(e.EventId)));
        Assert.Equal(events.Count, events.Select(e => e.EventId).Distinct().Count());
        var committed = events[^1];
        Assert.Equal("turn_committed", committed.EventType);
        var text = Assemble(events);
        Assert.Equal(JsonDocument.Parse(committed.Data).RootElement.GetProperty("text").GetString(), text);
        Assert.Equal(text, await StoredReplyAsync(api, path));
    }

    [SkippableFact]
    public async Task A_client_that_drops_mid_reply_reattaches_with_Last_Event_ID_and_gets_the_rest()
    {
        var service = await host.ServiceAsync();
        using var api = service.Client(service.AcmeKey);
        var path = await api.CreateThreadAsync("stream", "drop-same");
        service.Emulator.Faults.Enqueue("tps:40");
        var (seen, lastId, turnId) = await ReadSomeThenDropAsync(api, path, "a slow reply please", deltas: 3);
        var rest = await ReattachAsync(api, path, turnId, lastId);
        Assert.Equal("turn_committed", rest[^1].EventType);
        Assert.True(rest.Count > 1, "the rest of the reply came as deltas before the committed turn");
        Assert.Equal(await StoredReplyAsync(api, path), seen + Assemble(rest));
    }

    [SkippableFact]
    public async Task A_stream_dropped_on_one_instance_is_finished_by_another()
    {
        var service = await host.ServiceAsync();
        using var first = service.Client(service.AcmeKey, instance: 0);
        using var second = service.Client(service.AcmeKey, instance: 1);
        var path = await first.CreateThreadAsync("stream", "drop-other");
        service.Emulator.Faults.Enqueue("tps:40");
        var (seen, lastId, turnId) = await ReadSomeThenDropAsync(first, path, "a slow reply please", deltas: 2);
        var rest = await ReattachAsync(second, path, turnId, lastId);
        Assert.Equal("turn_committed", rest[^1].EventType);
        Assert.Equal(await StoredReplyAsync(first, path), seen + Assemble(rest));
    }

    [SkippableFact]
    public async Task A_client_that_asked_to_cancel_on_disconnect_leaves_the_thread_as_it_was()
    {
        var service = await host.ServiceAsync();
        using var api = service.Client(service.AcmeKey);
        var path = await api.CreateThreadAsync("stream", "cancel-on-drop");
        await api.TurnAsync(path, "first");
        var before = long.Parse((await api.GetAsync(path))["last_sequence"]!, System.Globalization.CultureInfo.InvariantCulture);
        service.Emulator.Faults.Enqueue("tps:20");
        var (_, _, turnId) = await ReadSomeThenDropAsync(api, path, "never mind", deltas: 2, cancelOnDisconnect: true);
        var status = await WaitForEndAsync(api, path, turnId);
        Assert.Equal(409, status.Status);
        Assert.Equal("cancelled", status.Problem);
        await api.AssertNoTurnStoredAsync(path, before);
    }

    [SkippableFact]
    public async Task Cancelling_a_turn_from_another_client_ends_its_stream_and_stores_nothing()
    {
        var service = await host.ServiceAsync();
        using var api = service.Client(service.AcmeKey);
        using var other = service.Client(service.AcmeKey, instance: 1);
        var path = await api.CreateThreadAsync("stream", "stop");
        service.Emulator.Faults.Enqueue("tps:5"); // slow enough that a cancel through the other instance (renewed every 2 s) arrives first
        await using var stream = await OpenStreamAsync(api, path, "stop me");
        var events = new List<SseItem<string>>();
        string? turnId = null;
        await foreach (var e in stream.Events)
        {
            events.Add(e);
            turnId ??= JsonDocument.Parse(e.Data).RootElement.GetProperty("turn_id").GetString();
            if (e.EventType == "content_block_delta" && events.Count(x => x.EventType == "content_block_delta") == 2)
            {
                // Through the other instance: the cancel travels through the shared turn records.
                Assert.Equal(202, (await other.PostAsync($"{path}/turns/{turnId}/cancel")).Status);
            }
        }
        Assert.Equal("error", events[^1].EventType);
        Assert.Contains("cancelled", events[^1].Data, StringComparison.Ordinal);
        await api.AssertNoTurnStoredAsync(path);
        Assert.Equal(409, (await api.PostAsync($"{path}/turns/{turnId}/cancel")).Status);
    }

    [SkippableFact]
    public async Task A_json_turn_whose_client_drops_still_commits()
    {
        var service = await host.ServiceAsync();
        using var api = service.Client(service.AcmeKey);
        var path = await api.CreateThreadAsync("stream", "json-drop");
        service.Emulator.Faults.Enqueue("ttft:1500");
        using (var impatient = new HttpClient { BaseAddress = service.Server.Url, Timeout = TimeSpan.FromMilliseconds(400) })
        {
            impatient.DefaultRequestHeaders.Add("x-api-key", service.AcmeKey);
            await Assert.ThrowsAnyAsync<TaskCanceledException>(() =>
                impatient.PostAsync(path + "/turns", new StringContent("""{"content":"are you still there?"}""", Encoding.UTF8, "application/json")));
        }
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while ((await api.GetAsync(path + "/messages")).Json.GetProperty("data").GetArrayLength() < 2 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
        }
        var messages = (await api.GetAsync(path + "/messages")).Json.GetProperty("data");
        Assert.Equal(2, messages.GetArrayLength());
        Assert.Equal("are you still there?", messages[0].GetProperty("content")[0].GetProperty("text").GetString());
    }

    internal sealed class OpenStream(HttpResponseMessage response, Stream body) : IAsyncDisposable
    {
        public HttpResponseMessage Response { get; } = response;

        public IAsyncEnumerable<SseItem<string>> Events { get; } = SseParser.Create(body).EnumerateAsync();

        public async ValueTask DisposeAsync()
        {
            await body.DisposeAsync();
            Response.Dispose();
        }
    }

    internal static async Task<OpenStream> OpenStreamAsync(ServiceClient api, string path, string text, bool cancelOnDisconnect = false)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path + "/turns")
        {
            Content = new StringContent(JsonSerializer.Serialize(new { content = text, stream = true, cancel_on_disconnect = cancelOnDisconnect }), Encoding.UTF8, "application/json"),
        };
        var response = await api.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        return new OpenStream(response, await response.Content.ReadAsStreamAsync());
    }

    private static async Task<(string Seen, string LastId, string TurnId)> ReadSomeThenDropAsync(ServiceClient api, string path, string text, int deltas, bool cancelOnDisconnect = false)
    {
        var seen = new List<SseItem<string>>();
        string? turnId = null;
        await using (var stream = await OpenStreamAsync(api, path, text, cancelOnDisconnect))
        {
            await foreach (var e in stream.Events)
            {
                seen.Add(e);
                turnId ??= JsonDocument.Parse(e.Data).RootElement.GetProperty("turn_id").GetString();
                if (seen.Count(x => x.EventType == "content_block_delta" && x.Data.Contains("text_delta", StringComparison.Ordinal)) == deltas)
                {
                    break; // the client goes away mid-reply
                }
            }
        }
        Assert.DoesNotContain(seen, e => e.EventType == "turn_committed");
        return (Assemble(seen), seen[^1].EventId!, turnId!);
    }

    private static async Task<List<SseItem<string>>> ReattachAsync(ServiceClient api, string path, string turnId, string lastId)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{path}/turns/{turnId}/events");
        request.Headers.Add("Last-Event-ID", lastId);
        using var response = await api.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(200, (int)response.StatusCode);
        await using var body = await response.Content.ReadAsStreamAsync();
        return await ReadAllAsync(SseParser.Create(body).EnumerateAsync());
    }

    private static async Task<Reply> WaitForEndAsync(ServiceClient api, string path, string turnId)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            var reply = await api.GetAsync($"{path}/turns/{turnId}");
            if (reply["status"] != "running" || DateTime.UtcNow > deadline)
            {
                return reply;
            }
            await Task.Delay(100);
        }
    }

    private static async Task<List<SseItem<string>>> ReadAllAsync(IAsyncEnumerable<SseItem<string>> events)
    {
        var all = new List<SseItem<string>>();
        await foreach (var e in events)
        {
            all.Add(e);
        }
        return all;
    }

    internal static string Assemble(IEnumerable<SseItem<string>> events) => string.Concat(events
        .Where(e => e.EventType == "content_block_delta")
        .Select(e => JsonDocument.Parse(e.Data).RootElement.GetProperty("delta"))
        .Where(d => d.GetProperty("type").GetString() == "text_delta")
        .Select(d => d.GetProperty("text").GetString()));

    internal static async Task<string> StoredReplyAsync(ServiceClient api, string path)
    {
        var messages = (await api.GetAsync(path + "/messages")).Json.GetProperty("data");
        var reply = messages[messages.GetArrayLength() - 1];
        Assert.Equal("assistant", reply.GetProperty("role").GetString());
        return string.Concat(reply.GetProperty("content").EnumerateArray()
            .Where(b => b.GetProperty("type").GetString() == "text").Select(b => b.GetProperty("text").GetString()));
    }
}
