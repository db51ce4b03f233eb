using System.Text;
using ConversationLedger.Server.Tests.Support;

namespace ConversationLedger.Server.Tests;

/// <summary>A service whose model calls are not retried and whose turns time out after 5 s, so upstream failures surface at once.</summary>
public sealed class ImpatientService() : ServiceHost(Database.Sqlite, settings: new Dictionary<string, string>
{
    ["Anthropic:MaxRetries"] = "0",
    ["Server:TurnTimeout"] = "00:00:05",
});

/// <summary>A service that lets each tenant make 3 requests, then 1 per second.</summary>
public sealed class RateLimitedService() : ServiceHost(Database.Sqlite, settings: new Dictionary<string, string>
{
    ["Server:RequestsPerSecond"] = "1",
    ["Server:RequestBurst"] = "3",
});

/// <summary>
/// Every error the API promises, as RFC 9457 problem details with a stable type and, where one field is at fault, its name:
/// 400, 401, 404, 409, 413, 422 and 502/503/504 from the model API, with nothing stored.
/// </summary>
public sealed class ErrorTests(ImpatientService host) : IClassFixture<ImpatientService>
{
    [SkippableTheory]
    [InlineData("{", "invalid-request", null)]
    [InlineData("""{"content":"hi","colour":"red"}""", "invalid-request", "colour")]
    [InlineData("""{"content":5}""", "invalid-request", "content")]
    [InlineData("""{"content":""}""", "invalid-request", "content")]
    [InlineData("""{}""", "invalid-request", "content")]
    [InlineData("""{"content":"hi","model":"claude-nonesuch"}""", "invalid-request", "model")]
    [InlineData("""{"content":"hi","policy":"guide:1"}""", "invalid-request", "policy")]
    [InlineData("""{"content":"hi","thinking":"lots"}""", "invalid-request", "thinking")]
    [InlineData("""{"content":"hi","max_tokens":0}""", "invalid-request", "max_tokens")]
    [InlineData("""{"content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"?"}]}""", "invalid-conversation", null)]
    [InlineData("""{"content":[{"text":"no type"}]}""", "invalid-request", "content")]
    public async Task Bad_turn_requests_get_400_naming_the_field_and_store_nothing(string body, string problem, string? field)
    {
        var service = await host.ServiceAsync();
        using var api = service.Client(service.AcmeKey);
        var path = await api.CreateThreadAsync("errors", "bad-" + Guid.NewGuid().ToString("N")[..8]);
        var reply = await api.PostAsync(path + "/turns", body);
        Assert.Equal(400, reply.Status);
        Assert.Equal("application/problem+json", reply.Response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(problem, reply.Problem);
        Assert.False(string.IsNullOrEmpty(reply["title"]));
        Assert.False(string.IsNullOrEmpty(reply["detail"]));
        if (field is not null)
        {
            Assert.Equal(field, reply["field"]);
        }
        Assert.Empty((await api.GetAsync(path + "/entries")).Json.GetProperty("data").EnumerateArray());
    }

    [SkippableTheory]
    [InlineData("""{"scope":"s","id":"a\u0001b"}""", "id")]
    [InlineData("""{"scope":"s","id":"ok","model":"claude-nonesuch"}""", "model")]
    [InlineData("""{"scope":"s","id":"ok","policy":"window:x"}""", "policy")]
    [InlineData("""{"scope":"s","id":"ok","retention_days":-1}""", "retention_days")]
    [InlineData("""{"scope":"s","id":"ok","metadata":{"k":"\ud800"}}""", "metadata.k")]
    [InlineData("""{"scope":"s","id":"ok","metadata":{"k":"\u0007"}}""", "metadata")]
    public async Task Bad_thread_settings_get_400_naming_the_field(string body, string field)
    {
        var service = await host.ServiceAsync();
        using var api = service.Client(service.AcmeKey);
        var reply = await api.PostAsync("/v1/threads", body);
        Assert.Equal(400, reply.Status);
        Assert.Equal(field, reply["field"]);
        Assert.Equal(404, (await api.GetAsync("/v1/threads/s/ok")).Status);
    }

    [SkippableFact]
    public async Task Missing_things_are_404_problems()
    {
        var service = await host.ServiceAsync();
        using var api = service.Client(service.AcmeKey);
        var missing = await api.GetAsync("/v1/threads/nowhere/nothing");
        Assert.Equal(404, missing.Status);
        Assert.Equal("not-found", missing.Problem);
        Assert.Equal(404, (await api.GetAsync("/v1/no-such-route")).Status);
        var path = await api.CreateThreadAsync("errors", "turnless");
        Assert.Equal(404, (await api.GetAsync(path + "/turns/0123")).Status);
        Assert.Equal(404, (await api.SendAsync(HttpMethod.Delete, path + "/pins/99")).Status);
        Assert.Equal(400, (await api.GetAsync("/v1/threads?limit=0")).Status);
    }

    [SkippableFact]
    public async Task A_second_turn_while_one_is_in_flight_is_409_before_any_model_call()
    {
        var service = await host.ServiceAsync();
        using var api = service.Client(service.AcmeKey);
        var path = await api.CreateThreadAsync("errors", "busy");
        service.Emulator.Faults.Enqueue("ttft:1500");
        var first = api.TurnAsync(path, "slow one");
        await Task.Delay(400);
        var calls = service.Emulator.Requests.Received;
        var second = await api.TurnAsync(path, "impatient one");
        Assert.Equal(409, second.Status);
        Assert.Equal("turn-in-flight", second.Problem);
        Assert.Equal(calls, service.Emulator.Requests.Received);
        Assert.Equal(200, (await first).Status);
        var waited = api.TurnAsync(path, "this one waits", new { wait = true });
        Assert.Equal(200, (await waited).Status);
        Assert.Equal(4, (await api.GetAsync(path + "/messages")).Json.GetProperty("data").GetArrayLength());
    }

    [SkippableFact]
    public async Task A_body_over_the_limit_is_413()
    {
        var service = await host.ServiceAsync();
        using var api = service.Client(service.AcmeKey);
        var path = await api.CreateThreadAsync("errors", "huge");
        // As a careful client sends a large body: it waits for 100-continue, so the refusal arrives before the upload.
        var reply = await api.PostAsync(path + "/turns", $$"""{"content":"{{new string('x', 5 * 1024 * 1024)}}"}""", new Dictionary<string, string> { ["Expect"] = "100-continue" });
        Assert.Equal(413, reply.Status);
        Assert.Equal("too-large", reply.Problem);
    }

    [SkippableFact]
    public async Task A_message_that_cannot_fit_the_window_is_422_and_is_not_sent()
    {
        var service = await host.ServiceAsync();
        using var api = service.Client(service.AcmeKey);
        var path = await api.CreateThreadAsync("errors", "too-long");
        var calls = service.Emulator.Requests.Received;
        var words = new StringBuilder();
        for (var i = 0; i < 260_000; i++)
        {
            words.Append("w").Append(i % 10).Append(' ');
        }
        var reply = await api.TurnAsync(path, words.ToString());
        Assert.Equal(422, reply.Status);
        Assert.Equal("context-budget", reply.Problem);
        Assert.Equal(calls, service.Emulator.Requests.Received);
    }

    [SkippableTheory]
    [InlineData("500", 502, "upstream-error")]
    [InlineData("529", 503, "upstream-unavailable")]
    [InlineData("429:7", 503, "upstream-unavailable")]
    [InlineData("ttft:9000", 504, "upstream-timeout")]
    public async Task Model_API_failures_are_5xx_with_the_upstream_request_id_and_store_nothing(string fault, int status, string problem)
    {
        var service = await host.ServiceAsync();
        using var api = service.Client(service.AcmeKey);
        var path = await api.CreateThreadAsync("errors", "upstream-" + Guid.NewGuid().ToString("N")[..8]);
        service.Emulator.Faults.Enqueue(fault);
        var reply = await api.TurnAsync(path, "hello?");
        Assert.Equal(status, reply.Status);
        Assert.Equal(problem, reply.Problem);
        if (status != 504)
        {
            Assert.StartsWith("req_", reply["upstream_request_id"]);
        }
        if (status == 503)
        {
            Assert.True(reply.Response.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
        }
        await api.AssertNoTurnStoredAsync(path);
        Assert.Equal(200, (await api.TurnAsync(path, "and now?")).Status);
        // What the thread cost counts every billed call, the failed one's too.
        var totals = (await api.GetAsync(path + "/usage")).Json.GetProperty("totals").GetProperty("cost_usd").GetDecimal();
        var listed = (await api.GetAsync(path)).Json.GetProperty("cost_usd").GetDecimal();
        Assert.Equal(totals, listed);
    }
}

public sealed class RateLimitTests(RateLimitedService host) : IClassFixture<RateLimitedService>
{
    [SkippableFact]
    public async Task A_tenant_over_its_rate_gets_429_with_Retry_After_and_other_tenants_do_not()
    {
        var service = await host.ServiceAsync();
        using var acme = service.Client(service.AcmeKey);
        using var globex = service.Client(service.GlobexKey);
        var statuses = new List<int>();
        for (var i = 0; i < 6; i++)
        {
            statuses.Add((await acme.GetAsync("/v1/threads")).Status);
        }
        Assert.Contains(429, statuses);
        Assert.Equal(200, statuses[0]);
        var limited = await acme.GetAsync("/v1/threads");
        Assert.Equal(429, limited.Status);
        Assert.Equal("rate-limited", limited.Problem);
        Assert.True(limited.Response.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
        Assert.Equal(200, (await globex.GetAsync("/v1/threads")).Status);
    }
}
