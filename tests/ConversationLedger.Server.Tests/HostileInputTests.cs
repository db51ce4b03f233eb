using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using ConversationLedger.Server.Tests.Support;
using Xunit.Abstractions;

namespace ConversationLedger.Server.Tests;

/// <summary>A service without a practical rate limit, so generated requests reach the routes rather than the limiter.</summary>
public sealed class UnlimitedService() : ServiceHost(Database.Sqlite, settings: new Dictionary<string, string>
{
    ["Server:RequestsPerSecond"] = "100000",
    ["Server:RequestBurst"] = "100000",
});

/// <summary>
/// Generated hostile requests against every route: malformed and truncated JSON, wrong types, deep and huge bodies, invalid
/// UTF-8 and lone surrogates, control characters, separators and wildcards in every id, odd headers. Every answer must be a
/// 2xx or a 4xx (a problem document unless Kestrel refused the request line itself) — never a 5xx — and every thread must still
/// read back as a valid conversation. 400 cases in CI; LEDGER_LONG_TESTS=1 runs 10,000 (docs/reliability.md).
/// </summary>
public sealed class HostileInputTests(UnlimitedService host, ITestOutputHelper output) : IClassFixture<UnlimitedService>
{
    private static readonly int Cases = Environment.GetEnvironmentVariable("LEDGER_LONG_TESTS") == "1" ? 10_000 : 400;

    private static readonly string[] Ids = ["t", "a/b", "a%2Fb", "%", "_", "*", "a:b", "'\"", "..", ".", "é", "e\u0301", "😀", "\u0000", "\t", "a b",
        "x?y", "x#y", "\\", "%FF", "%C3", new string('z', 200), new string('z', 201), new string('q', 1000), "\ud800", "", "NULL", "$(id)", "<script>"];

    private static readonly string[] Suffixes = ["", "/messages", "/entries", "/usage", "/inspect", "/turns", "/reset", "/fork", "/pins", "/pins/2",
        "/messages/2", "/system", "/export", "/turns/abc", "/turns/abc/events", "/turns/abc/cancel", "/messages/-1", "/pins/99999999999999999999"];

    private static readonly string[] Fields = ["content", "stream", "wait", "model", "max_tokens", "policy", "thinking", "effort", "tools", "tool_choice",
        "scope", "id", "system", "metadata", "retention_days", "at", "sequence", "text", "reason", "cancel_on_disconnect", "colour"];

    [SkippableFact]
    public async Task Generated_hostile_requests_never_get_a_5xx_and_leave_every_history_valid()
    {
        var service = await host.ServiceAsync();
        using var api = service.Client(service.AcmeKey);
        var seed = Environment.GetEnvironmentVariable("LEDGER_FUZZ_SEED") is { } s ? int.Parse(s, CultureInfo.InvariantCulture) : Environment.TickCount;
        var random = new Random(seed);
        var valid = await api.CreateThreadAsync("fuzz", "t");
        await api.TurnAsync(valid, "a real question");
        var statuses = new Dictionary<int, int>();
        for (var i = 0; i < Cases; i++)
        {
            using var request = Generate(random);
            var description = $"case {i} (seed {seed}): {request.Method} {request.RequestUri}";
            HttpResponseMessage response;
            try
            {
                response = await api.Http.SendAsync(request);
            }
            catch (HttpRequestException ex)
            {
                throw new Xunit.Sdk.XunitException($"{description}: the connection failed ({ex.Message})");
            }
            using (response)
            {
                var status = (int)response.StatusCode;
                statuses[status] = statuses.GetValueOrDefault(status) + 1;
                var body = await response.Content.ReadAsStringAsync();
                Assert.True(status < 500, $"{description}: {status} {body}\n{Tail(service.Server.Output)}");
                if (status == 204 && request.Method == HttpMethod.Delete && request.RequestUri!.OriginalString == "/v1/threads/fuzz/t")
                {
                    await api.TurnAsync(await api.CreateThreadAsync("fuzz", "t"), "a real question again"); // deleted: back for the next cases
                }
                if (status >= 400 && body.Length > 0)
                {
                    Assert.True(response.Content.Headers.ContentType?.MediaType == "application/problem+json", $"{description}: {status} {body}");
                    Assert.Contains("urn:conversation-ledger:problem:", body, StringComparison.Ordinal);
                }
            }
        }
        Assert.True(service.Server.Running, "the service is still up");
        // Every thread the fuzz created or touched still reads back as a valid conversation.
        var threads = (await api.GetAsync("/v1/threads?limit=1000&archived=true")).Json.GetProperty("data").EnumerateArray().ToArray();
        Assert.NotEmpty(threads);
        foreach (var thread in threads)
        {
            var messages = await api.GetAsync(thread.GetProperty("path").GetString() + "/messages?limit=1000");
            Assert.True(messages.Status == 200, $"{thread.GetProperty("path")}: {messages.Status} {messages.Json}");
        }
        output.WriteLine($"{Cases} generated requests (seed {seed}), {threads.Length} threads checked valid; answers: " +
            string.Join(", ", statuses.OrderBy(p => p.Key).Select(p => $"{p.Key}×{p.Value}")));
        Assert.Contains(statuses.Keys, k => k is >= 200 and < 300);
        Assert.Contains(400, statuses.Keys);
    }

    private static HttpRequestMessage Generate(Random random)
    {
        var method = Pick(random, [HttpMethod.Get, HttpMethod.Post, HttpMethod.Put, HttpMethod.Patch, HttpMethod.Delete, HttpMethod.Options]);
        var path = random.Next(10) switch
        {
            0 => "/v1/threads" + Pick(random, ["", "?limit=-1", "?limit=abc", "?cursor=%%%", "?cursor=WzEsIngiXQ", "?metadata.=x", "?q=%25", "?scope=" + Escape(random, Pick(random, Ids))]),
            1 => "/v1/threads/import?scope=" + Escape(random, Pick(random, Ids)) + "&id=" + Escape(random, Pick(random, Ids)),
            2 => Pick(random, ["/v1/usage?from=2026-02-30", "/v1/usage?from=x", "/v1/tenant?confirm=globex", "/v1", "/v1/threads/", "/v1/threads//"]),
            < 6 => "/v1/threads/fuzz/t" + Routed(random, ref method), // the real thread, its routes' methods: bodies reach the routes' checks
            _ => $"/v1/threads/{Escape(random, Pick(random, Ids))}/{Escape(random, Pick(random, Ids))}{Pick(random, Suffixes)}",
        };
        var request = new HttpRequestMessage(method, path);
        if (method != HttpMethod.Get && method != HttpMethod.Delete || random.Next(4) == 0)
        {
            var body = Body(random);
            request.Content = new ByteArrayContent(body);
            request.Content.Headers.ContentType = random.Next(6) switch
            {
                0 => new MediaTypeHeaderValue("text/plain"),
                1 => null,
                2 => MediaTypeHeaderValue.Parse("application/json; charset=latin1"),
                _ => new MediaTypeHeaderValue("application/json"),
            };
        }
        if (random.Next(5) == 0)
        {
            request.Headers.TryAddWithoutValidation("Idempotency-Key", Pick(random, ["k", "", new string('k', 300), "%C3%A9", "a b", "{}"]));
        }
        if (random.Next(8) == 0)
        {
            request.Headers.TryAddWithoutValidation("Last-Event-ID", Pick(random, ["1.2.3", "-1.0.0", "999999999999.1.1", "x", ""]));
        }
        if (random.Next(10) == 0)
        {
            request.Headers.TryAddWithoutValidation("Accept", "text/event-stream");
        }
        return request;
    }

    // A suffix of a thread route with the method it takes.
    private static string Routed(Random random, ref HttpMethod method)
    {
        (HttpMethod Method, string Suffix)[] routes =
        [
            (HttpMethod.Get, ""), (HttpMethod.Patch, ""), (HttpMethod.Get, "/messages?limit=5"), (HttpMethod.Get, "/entries?before=3"),
            (HttpMethod.Get, "/usage"), (HttpMethod.Post, "/inspect"), (HttpMethod.Post, "/turns"), (HttpMethod.Post, "/turns"), (HttpMethod.Post, "/turns"),
            (HttpMethod.Post, "/reset"), (HttpMethod.Post, "/fork"), (HttpMethod.Post, "/pins"), (HttpMethod.Delete, "/pins/2"),
            (HttpMethod.Put, "/messages/2"), (HttpMethod.Put, "/system"), (HttpMethod.Get, "/export"),
        ];
        var (routeMethod, suffix) = Pick(random, routes);
        method = routeMethod;
        return suffix;
    }

    private static byte[] Body(Random random)
    {
        switch (random.Next(12))
        {
            case 0:
                return RandomBytes(random, random.Next(1, 200));
            case 1:
                return Encoding.UTF8.GetBytes(new string('[', random.Next(50, 5000)) + new string(']', random.Next(0, 100)));
            case 2:
                return [.. "{\"content\":\""u8, 0xFF, 0xFE, 0xC3, .. "\"}"u8];
            case 3:
                return Encoding.UTF8.GetBytes("{\"content\":\"\\ud800 lone\",\"scope\":\"\\udc00\"}");
            case 4:
                return Encoding.UTF8.GetBytes("{\"content\":" + Nested(random.Next(40, 400)) + "}");
            case 5:
                return Encoding.UTF8.GetBytes("{\"content\":\"" + new string('x', random.Next(1000, 200_000)) + "\"}");
            case 6:
                var json = ValidishObject(random);
                return Encoding.UTF8.GetBytes(json[..random.Next(json.Length)]); // truncated
            default:
                return Encoding.UTF8.GetBytes(ValidishObject(random));
        }
    }

    // An object of known fields with values of every JSON type, some right and some wrong.
    private static string ValidishObject(Random random)
    {
        var parts = new List<string>();
        foreach (var _ in Enumerable.Range(0, random.Next(0, 5)))
        {
            parts.Add($"\"{Pick(random, Fields)}\":{Value(random)}");
        }
        return "{" + string.Join(",", parts) + "}";
    }

    private static string Value(Random random) => random.Next(16) switch
    {
        0 => "null",
        1 => "true",
        2 => "-1",
        3 => "1e400",
        4 => "99999999999999999999999",
        5 => "\"\"",
        6 => "\"hello\"",
        7 => "\"" + Pick(random, ["adaptive", "off", "keep-all", "window:0", "guide:1", "claude-opus-4-1", "claude-nope", "max", "<script>alert(1)</script>"]) + "\"",
        8 => "[]",
        9 => "{}",
        10 => "[{\"type\":\"text\",\"text\":\"hi\"}]",
        11 => "[{\"type\":\"tool_result\",\"tool_use_id\":\"x\",\"content\":\"y\"}]",
        12 => "[{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\",\"data\":\"!!!\"}}]",
        13 => "{\"k\":\"\\u0000\"}",
        14 => "\"\\u0007bell\"",
        _ => "[" + string.Join(",", Enumerable.Range(0, random.Next(0, 4)).Select(_ => "{\"type\":\"x\"}")) + "]",
    };

    private static string Nested(int depth) => depth == 0 ? "\"deep\"" : "[" + Nested(depth - 1) + "]";

    private static string Escape(Random random, string id) => random.Next(4) == 0 ? id.Replace("?", "%3F", StringComparison.Ordinal).Replace("#", "%23", StringComparison.Ordinal) : Uri.EscapeDataString(id);

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    private static string Tail(string log) => log[^Math.Min(3000, log.Length)..];

    private static T Pick<T>(Random random, IReadOnlyList<T> items) => items[random.Next(items.Count)];
}
