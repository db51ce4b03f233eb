using System.Text.Json;
using ConversationLedger.Server.Tests.Support;

namespace ConversationLedger.Server.Tests;

/// <summary>Every thread route against a real service process, on SQLite and on PostgreSQL.</summary>
public abstract class ThreadRouteTests(ServiceHost host)
{
    [SkippableFact]
    public async Task A_thread_is_created_read_changed_listed_and_deleted()
    {
        var service = await host.ServiceAsync();
        using var api = service.Client(service.AcmeKey);
        var created = await api.PostAsync("/v1/threads", new { scope = "tickets", id = "lifecycle", system = "Be brief.", metadata = new { customer = "c-7", plan = "pro" } });
        Assert.Equal(201, created.Status);
        Assert.Equal("/v1/threads/tickets/lifecycle", created.Response.Headers.Location?.ToString());
        Assert.Equal("Be brief.", created["system"]);

        var again = await api.PostAsync("/v1/threads", new { scope = "tickets", id = "lifecycle" });
        Assert.Equal(409, again.Status);
        Assert.Equal("conflict", again.Problem);

        var patched = await api.SendAsync(HttpMethod.Patch, "/v1/threads/tickets/lifecycle", new { model = "claude-haiku-4-5", policy = "window:8", metadata = new { customer = "c-8" } });
        Assert.Equal(200, patched.Status);
        Assert.Equal("claude-haiku-4-5", patched["model"]);
        Assert.Equal("window:8", patched["policy"]);
        Assert.Equal("c-8", patched.Json.GetProperty("metadata").GetProperty("customer").GetString());

        await api.CreateThreadAsync("tickets", "other", new { metadata = new { customer = "c-9" } });
        var byMetadata = await api.GetAsync("/v1/threads?metadata.customer=c-8");
        Assert.Equal(["lifecycle"], Ids(byMetadata));
        var byScope = await api.GetAsync("/v1/threads?scope=tickets");
        Assert.Equal(2, Ids(byScope).Length);
        var bySearch = await api.GetAsync("/v1/threads?q=life");
        Assert.Equal(["lifecycle"], Ids(bySearch));

        Assert.Equal(204, (await api.SendAsync(HttpMethod.Delete, "/v1/threads/tickets/lifecycle")).Status);
        Assert.Equal(404, (await api.GetAsync("/v1/threads/tickets/lifecycle")).Status);
        Assert.Equal(404, (await api.SendAsync(HttpMethod.Delete, "/v1/threads/tickets/lifecycle")).Status);
        Assert.DoesNotContain("lifecycle", Ids(await api.GetAsync("/v1/threads?scope=tickets")));
    }

    [SkippableFact]
    public async Task Listings_page_with_cursors_newest_activity_first()
    {
        var service = await host.ServiceAsync();
        using var api = service.Client(service.AcmeKey);
        foreach (var id in new[] { "p1", "p2", "p3" })
        {
            var path = await api.CreateThreadAsync("paging", id);
            Assert.Equal(200, (await api.TurnAsync(path, "hello " + id)).Status);
        }
        var first = await api.GetAsync("/v1/threads?scope=paging&limit=2");
        Assert.Equal(["p3", "p2"], Ids(first));
        var second = await api.GetAsync($"/v1/threads?scope=paging&limit=2&cursor={first["next_cursor"]}");
        Assert.Equal(["p1"], Ids(second));
        Assert.Equal(JsonValueKind.Null, second.Json.TryGetProperty("next_cursor", out var next) ? next.ValueKind : JsonValueKind.Null);
        Assert.Equal(400, (await api.GetAsync("/v1/threads?cursor=not-a-cursor")).Status);
    }

    [SkippableFact]
    public async Task Turns_messages_entries_and_usage_agree()
    {
        var service = await host.ServiceAsync();
        using var api = service.Client(service.AcmeKey);
        var path = await api.CreateThreadAsync("support", "usage");
        var turns = new List<Reply>();
        foreach (var text in new[] { "one", "two", "three" })
        {
            var turn = await api.TurnAsync(path, text);
            Assert.Equal(200, turn.Status);
            turns.Add(turn);
        }
        Assert.Contains("I can see 5 messages", turns[2]["text"]);

        var messages = await api.GetAsync(path + "/messages?limit=4");
        var page = messages.Json.GetProperty("data").EnumerateArray().ToArray();
        Assert.Equal([3L, 4, 5, 6], page.Select(m => m.GetProperty("ordinal").GetInt64()));
        var earlier = await api.GetAsync($"{path}/messages?limit=4&before={messages["next_cursor"]}");
        Assert.Equal([1L, 2], earlier.Json.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("ordinal").GetInt64()));
        var forward = await api.GetAsync(path + "/messages?after=4");
        Assert.Equal(["three", turns[2]["text"]], forward.Json.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("content")[0].GetProperty("text").GetString()));

        var entries = await api.GetAsync(path + "/entries?limit=3");
        var firstEntries = entries.Json.GetProperty("data").EnumerateArray().Select(e => e.GetProperty("sequence").GetInt64()).ToArray();
        Assert.Equal([1L, 2, 3], firstEntries);
        var rest = await api.GetAsync($"{path}/entries?after={entries["next_cursor"]}&limit=1000");
        var last = rest.Json.GetProperty("data").EnumerateArray().Last().GetProperty("sequence").GetInt64();
        var backward = await api.GetAsync($"{path}/entries?before={last + 1}&limit=2");
        Assert.Equal([last - 1, last], backward.Json.GetProperty("data").EnumerateArray().Select(e => e.GetProperty("sequence").GetInt64()));

        var usage = await api.GetAsync(path + "/usage");
        var calls = usage.Json.GetProperty("calls").EnumerateArray().ToArray();
        Assert.Equal(3, calls.Length);
        for (var i = 0; i < 3; i++)
        {
            var billed = turns[i].Json.GetProperty("usage");
            Assert.Equal(billed.GetProperty("input_tokens").GetInt64(), calls[i].GetProperty("input_tokens").GetInt64());
            Assert.Equal(billed.GetProperty("output_tokens").GetInt64(), calls[i].GetProperty("output_tokens").GetInt64());
            Assert.Equal(billed.GetProperty("cost_usd").GetDecimal(), calls[i].GetProperty("cost_usd").GetDecimal());
        }
        var totals = usage.Json.GetProperty("totals");
        Assert.Equal(calls.Sum(c => c.GetProperty("cost_usd").GetDecimal()), totals.GetProperty("cost_usd").GetDecimal());
        Assert.Equal(calls.Sum(c => c.GetProperty("output_tokens").GetInt64()), totals.GetProperty("output_tokens").GetInt64());

        var listed = (await api.GetAsync("/v1/threads?scope=support")).Json.GetProperty("data")[0];
        Assert.Equal(6, listed.GetProperty("messages").GetInt64());
        Assert.Equal(totals.GetProperty("cost_usd").GetDecimal(), listed.GetProperty("cost_usd").GetDecimal());
    }

    [SkippableFact]
    public async Task Inspect_shows_the_next_request_and_stores_nothing()
    {
        var service = await host.ServiceAsync();
        using var api = service.Client(service.AcmeKey);
        var path = await api.CreateThreadAsync("support", "inspect", new { system = "You are terse." });
        await api.TurnAsync(path, "first question");
        var before = (await api.GetAsync(path))["last_sequence"];
        var inspect = await api.PostAsync(path + "/inspect", new { content = "next question" });
        Assert.Equal(200, inspect.Status);
        var request = inspect.Json.GetProperty("request");
        Assert.Equal(3, request.GetProperty("messages").GetArrayLength());
        Assert.Equal("next question", request.GetProperty("messages")[2].GetProperty("content")[0].GetProperty("text").GetString());
        Assert.Contains("You are terse.", request.GetProperty("system").ToString());
        Assert.True(inspect.Json.GetProperty("parts").GetProperty("total").GetInt64() > 0);
        Assert.True(inspect.Json.GetProperty("estimated_cost_usd").GetDecimal() > 0);
        Assert.Equal(before, (await api.GetAsync(path))["last_sequence"]);
    }

    [SkippableFact]
    public async Task Pins_edits_system_prompt_reset_and_fork_are_ledger_events()
    {
        var service = await host.ServiceAsync();
        using var api = service.Client(service.AcmeKey);
        var path = await api.CreateThreadAsync("support", "events", new { policy = "keep-all" });
        await api.TurnAsync(path, "remember: the code is 4471");
        await api.TurnAsync(path, "and the colour is teal");
        var messages = (await api.GetAsync(path + "/messages")).Json.GetProperty("data").EnumerateArray().ToArray();
        var second = messages[2].GetProperty("sequence").GetInt64();

        Assert.Equal(204, (await api.PostAsync(path + "/pins", new { sequence = second })).Status);
        Assert.True((await api.GetAsync(path + "/messages")).Json.GetProperty("data")[2].GetProperty("pinned").GetBoolean());
        Assert.Equal(204, (await api.SendAsync(HttpMethod.Delete, $"{path}/pins/{second}")).Status);
        Assert.False((await api.GetAsync(path + "/messages")).Json.GetProperty("data")[2].GetProperty("pinned").GetBoolean());

        Assert.Equal(204, (await api.SendAsync(HttpMethod.Put, $"{path}/messages/{second}", new { content = "and the colour is green" })).Status);
        var edited = (await api.GetAsync(path + "/messages")).Json.GetProperty("data")[2];
        Assert.True(edited.GetProperty("edited").GetBoolean());
        Assert.Equal("and the colour is green", edited.GetProperty("content")[0].GetProperty("text").GetString());
        var badEdit = await api.SendAsync(HttpMethod.Put, $"{path}/messages/{second}", new { content = new object[] { new { type = "tool_result", tool_use_id = "toolu_x", content = "?" } } });
        Assert.Equal(400, badEdit.Status);

        Assert.Equal(204, (await api.SendAsync(HttpMethod.Put, path + "/system", new { text = "Answer in French." })).Status);
        Assert.Equal("Answer in French.", (await api.GetAsync(path))["system"]);

        var fork = await api.PostAsync(path + "/fork", new { id = "events-copy", at = second + 1 });
        Assert.Equal(201, fork.Status);
        var copied = (await api.GetAsync("/v1/threads/support/events-copy/messages")).Json.GetProperty("data").EnumerateArray().ToArray();
        Assert.Equal(4, copied.Length);
        Assert.Equal(409, (await api.PostAsync(path + "/fork", new { id = "events-copy" })).Status);

        Assert.Equal(204, (await api.PostAsync(path + "/reset", new { reason = "new topic" })).Status);
        Assert.Empty((await api.GetAsync(path + "/messages")).Json.GetProperty("data").EnumerateArray());
        var after = await api.TurnAsync(path, "fresh start");
        Assert.Contains("I can see 1 message", after["text"]);
        var kinds = (await api.GetAsync(path + "/entries?limit=1000")).Json.GetProperty("data").EnumerateArray().Select(e => e.GetProperty("kind").GetString()).ToArray();
        Assert.Contains("pin", kinds);
        Assert.Contains("edit", kinds);
        Assert.Contains("reset", kinds);
        Assert.Contains("system_prompt", kinds);
    }

    [SkippableFact]
    public async Task Export_then_import_round_trips_a_thread()
    {
        var service = await host.ServiceAsync();
        using var api = service.Client(service.AcmeKey);
        var path = await api.CreateThreadAsync("support", "export-me", new { system = "Be brief." });
        await api.TurnAsync(path, "a question worth keeping");
        var export = await api.Http.GetAsync(path + "/export");
        Assert.Equal("application/json", export.Content.Headers.ContentType?.MediaType);
        var document = await export.Content.ReadAsStringAsync();
        var imported = await api.PostAsync("/v1/threads/import?scope=restored&id=copy", document);
        Assert.Equal(201, imported.Status);
        var original = (await api.GetAsync(path + "/messages")).Json.GetProperty("data").ToString();
        var copy = (await api.GetAsync("/v1/threads/restored/copy/messages")).Json.GetProperty("data").ToString();
        Assert.Equal(original, copy);
        Assert.Equal("Be brief.", (await api.GetAsync("/v1/threads/restored/copy"))["system"]);
        Assert.Equal(409, (await api.PostAsync("/v1/threads/import?scope=restored&id=copy", document)).Status);
        var broken = await api.PostAsync("/v1/threads/import?scope=restored&id=broken", """{"messages":[{"role":"assistant","content":"hi"}]}""");
        Assert.Equal(400, broken.Status);
        Assert.Equal(404, (await api.GetAsync("/v1/threads/restored/broken")).Status);
    }

    [SkippableFact]
    public async Task Erasing_a_tenant_removes_its_threads_and_no_one_elses()
    {
        var service = await host.ServiceAsync();
        using var globex = service.Client(service.GlobexKey);
        using var acme = service.Client(service.AcmeKey);
        var path = await globex.CreateThreadAsync("erase", "g1");
        await globex.TurnAsync(path, "globex data");
        var acmePath = await acme.CreateThreadAsync("erase", "a1");
        Assert.Equal(400, (await globex.SendAsync(HttpMethod.Delete, "/v1/tenant")).Status);
        var erased = await globex.SendAsync(HttpMethod.Delete, "/v1/tenant?confirm=globex");
        Assert.Equal(200, erased.Status);
        Assert.True(erased.Json.GetProperty("erased_threads").GetInt32() >= 1);
        Assert.Empty(Ids(await globex.GetAsync("/v1/threads")));
        Assert.Equal(200, (await acme.GetAsync(acmePath)).Status);
    }

    [SkippableFact]
    public async Task The_tenants_usage_per_day_adds_up_to_what_its_threads_cost()
    {
        var service = await host.ServiceAsync();
        using var api = service.Client(service.AcmeKey);
        var path = await api.CreateThreadAsync("daily", "usage-day");
        await api.TurnAsync(path, "count me");
        await api.TurnAsync(path, "and me");
        var usage = await api.GetAsync("/v1/usage");
        Assert.Equal(200, usage.Status);
        var today = DateTime.UtcNow.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        var day = usage.Json.GetProperty("days").EnumerateArray().Single(d => d.GetProperty("day").GetString() == today);
        Assert.True(day.GetProperty("calls").GetInt64() >= 2);
        var threads = (await api.GetAsync("/v1/threads?limit=1000&archived=true")).Json.GetProperty("data").EnumerateArray();
        Assert.Equal(threads.Sum(t => t.GetProperty("cost_usd").GetDecimal()), usage.Json.GetProperty("totals").GetProperty("cost_usd").GetDecimal());
        Assert.Equal(400, (await api.GetAsync("/v1/usage?from=2026-13-01")).Status);
        // Each tenant sees its own: globex's days add up to globex's threads (nothing of acme's), erased or not.
        using var globex = service.Client(service.GlobexKey);
        await globex.TurnAsync(await globex.CreateThreadAsync("daily", "g-" + Guid.NewGuid().ToString("N")[..6]), "globex call");
        var theirs = (await globex.GetAsync("/v1/threads?limit=1000&archived=true")).Json.GetProperty("data").EnumerateArray();
        Assert.Equal(theirs.Sum(t => t.GetProperty("cost_usd").GetDecimal()),
            (await globex.GetAsync("/v1/usage")).Json.GetProperty("totals").GetProperty("cost_usd").GetDecimal());
    }

    [SkippableFact]
    public async Task Inspect_says_what_the_policy_left_out_and_how_full_the_window_is()
    {
        var service = await host.ServiceAsync();
        using var api = service.Client(service.AcmeKey);
        var path = await api.CreateThreadAsync("gauge", "window", new { policy = "window:4" });
        for (var i = 0; i < 4; i++)
        {
            await api.TurnAsync(path, $"message {i}");
        }
        await api.PostAsync(path + "/pins", new { sequence = 2 });
        var inspect = await api.PostAsync(path + "/inspect", new { content = "next" });
        Assert.Equal(0.8, inspect.Json.GetProperty("warn_at_fill").GetDouble());
        Assert.True(inspect.Json.GetProperty("pinned_messages").GetInt32() >= 1);
        Assert.True(inspect.Json.GetProperty("window_messages").GetInt32() <= 4);
        Assert.NotEmpty(inspect.Json.GetProperty("omitted").EnumerateArray());
        Assert.True(inspect.Json.GetProperty("fill").GetDouble() > 0);
    }

    internal static string[] Ids(Reply reply) =>
        reply.Json.GetProperty("data").EnumerateArray().Select(t => t.GetProperty("id").GetString()!).ToArray();
}

public sealed class SqliteThreadRouteTests(SqliteService host) : ThreadRouteTests(host), IClassFixture<SqliteService>;

public sealed class PostgresThreadRouteTests(PostgresService host) : ThreadRouteTests(host), IClassFixture<PostgresService>;
