using System.IdentityModel.Tokens.Jwt;
using System.Security.Claims;
using System.Text.Json;
using ConversationLedger.Server.Tests.Support;
using Microsoft.IdentityModel.Tokens;

namespace ConversationLedger.Server.Tests;

/// <summary>A service that also takes JWT bearer tokens signed with a shared key, the tenant in the claim "org".</summary>
public sealed class JwtService() : ServiceHost(Database.Sqlite, settings: new Dictionary<string, string>
{
    ["Server:Jwt:SigningKey"] = SecurityTests.SigningKey,
    ["Server:Jwt:Issuer"] = "https://id.example.test",
    ["Server:Jwt:Audience"] = "conversation-ledger",
    ["Server:TenantClaim"] = "org",
});

/// <summary>
/// Credentials and tenancy: no key, a wrong or revoked key → 401; another tenant's thread answers 404 exactly like a missing
/// one on every route; hostile ids stay apart; keys and message text never reach the logs; JWTs carry the tenant in a claim.
/// </summary>
public sealed class SecurityTests(SqliteService host) : IClassFixture<SqliteService>
{
    internal const string SigningKey = "c2lnbmluZy1rZXktb2YtdGhlLXRlc3QtaWRlbnRpdHktcHJvdmlkZXItMzJi";

    private static readonly (HttpMethod Method, string Suffix, object? Body)[] ThreadRoutes =
    [
        (HttpMethod.Get, "", null),
        (HttpMethod.Patch, "", new { policy = "keep-all" }),
        (HttpMethod.Get, "/messages", null),
        (HttpMethod.Get, "/entries", null),
        (HttpMethod.Get, "/usage", null),
        (HttpMethod.Post, "/inspect", new { content = "peek" }),
        (HttpMethod.Post, "/turns", new { content = "hijack" }),
        (HttpMethod.Post, "/turns", new { content = "hijack", stream = true }),
        (HttpMethod.Post, "/fork", new { id = "stolen" }),
        (HttpMethod.Post, "/reset", new { }),
        (HttpMethod.Post, "/pins", new { sequence = 2 }),
        (HttpMethod.Delete, "/pins/2", null),
        (HttpMethod.Put, "/messages/2", new { content = "rewritten" }),
        (HttpMethod.Put, "/system", new { text = "obey me" }),
        (HttpMethod.Get, "/export", null),
        (HttpMethod.Get, "/turns/TURN", null),
        (HttpMethod.Get, "/turns/TURN/events", null),
        (HttpMethod.Post, "/turns/TURN/cancel", null),
        (HttpMethod.Delete, "", null),
    ];

    [SkippableFact]
    public async Task Without_a_valid_key_every_route_is_401()
    {
        var service = await host.ServiceAsync();
        using var owner = service.Client(service.AcmeKey);
        var path = await owner.CreateThreadAsync("sec", "locked");
        foreach (var key in new[] { null, "cl_not-a-real-key", "not even the format", service.AcmeKey + "x" })
        {
            using var api = service.Client(key);
            Assert.Equal(401, (await api.GetAsync("/v1/threads")).Status);
            Assert.Equal(401, (await api.PostAsync("/v1/threads", new { scope = "sec", id = "x" })).Status);
            foreach (var (method, suffix, body) in ThreadRoutes)
            {
                var reply = await api.SendAsync(method, path + suffix.Replace("TURN", "t1", StringComparison.Ordinal), body);
                Assert.True(reply.Status == 401, $"{method} {suffix} with key {key}: {reply.Status}");
                Assert.Equal("unauthorized", reply.Problem);
            }
        }
        Assert.Equal(200, (await owner.GetAsync(path)).Status);
    }

    [SkippableFact]
    public async Task A_revoked_key_is_refused_at_once()
    {
        var service = await host.ServiceAsync();
        var (info, secret) = await service.State.CreateKeyAsync("acme", "to be revoked");
        using var api = service.Client(secret);
        Assert.Equal(200, (await api.GetAsync("/v1/threads")).Status);
        Assert.True(await service.State.RevokeKeyAsync(info.Id));
        Assert.Equal(401, (await api.GetAsync("/v1/threads")).Status);
        Assert.False(await service.State.RevokeKeyAsync(info.Id));
    }

    [SkippableFact]
    public async Task Another_tenants_thread_answers_exactly_like_a_missing_one_on_every_route()
    {
        var service = await host.ServiceAsync();
        using var acme = service.Client(service.AcmeKey);
        using var globex = service.Client(service.GlobexKey);
        var path = await acme.CreateThreadAsync("sec", "private");
        var turn = await acme.TurnAsync(path, "acme's secret plan", headers: new Dictionary<string, string> { ["Idempotency-Key"] = "k1" });
        var turnId = turn["id"]!;
        var before = (await acme.GetAsync(path + "/entries?limit=1000")).Json.ToString();
        foreach (var (method, suffix, body) in ThreadRoutes)
        {
            var theirs = await globex.SendAsync(method, path + suffix.Replace("TURN", turnId, StringComparison.Ordinal), body);
            var missing = await globex.SendAsync(method, "/v1/threads/sec/no-such-thread" + suffix.Replace("TURN", turnId, StringComparison.Ordinal), body);
            Assert.True(theirs.Status == 404, $"{method} {suffix}: {theirs.Status} {theirs.Json}");
            Assert.Equal(missing.Status, theirs.Status);
            Assert.Equal(missing.Problem, theirs.Problem);
            Assert.Equal(missing["detail"]!.Replace("no-such-thread", "private", StringComparison.Ordinal), theirs["detail"]);
        }
        // Tenants are separate namespaces: the same scope and id is globex's own thread, not a window onto acme's.
        Assert.Equal(201, (await globex.PostAsync("/v1/threads", new { scope = "sec", id = "private" })).Status);
        Assert.Empty((await globex.GetAsync(path + "/messages")).Json.GetProperty("data").EnumerateArray());
        Assert.DoesNotContain("acme", (await globex.GetAsync("/v1/threads?limit=1000")).Json.ToString(), StringComparison.Ordinal);
        Assert.Equal(before, (await acme.GetAsync(path + "/entries?limit=1000")).Json.ToString());
        Assert.Equal(200, (await acme.GetAsync(path)).Status);
    }

    [SkippableFact]
    public async Task Hostile_ids_are_kept_apart_or_refused_with_400()
    {
        var service = await host.ServiceAsync();
        using var api = service.Client(service.AcmeKey);
        string[] ids = ["a/b", "a%2Fb", "a%252Fb", "a%b", "a_b", "a*b", "a:b", "a'b\"c", "a b", "a+b", "a?b", "a#b", "\u00e9", "e\u0301", "E\u0301",
            "😀", "a\\b", "%", "_", "*", "..x", "x..", new string('z', 200)];
        foreach (var id in ids)
        {
            Assert.Equal(201, (await api.PostAsync("/v1/threads", new { scope = "hostile", id, metadata = new { id } })).Status);
        }
        foreach (var id in ids)
        {
            var reply = await api.GetAsync("/v1/threads/hostile/" + Uri.EscapeDataString(id));
            Assert.True(reply.Status == 200, $"{id}: {reply.Status} {reply.Json}");
            Assert.Equal(id, reply["id"]);
            Assert.Equal(id, reply.Json.GetProperty("metadata").GetProperty("id").GetString());
            Assert.Equal(200, (await api.TurnAsync(reply["path"]!, "hello " + id)).Status);
        }
        Assert.Equal(ids.Length, (await api.GetAsync("/v1/threads?scope=hostile&limit=1000")).Json.GetProperty("data").GetArrayLength());
        Assert.Equal(["a%b"], ThreadRouteTests.Ids(await api.GetAsync("/v1/threads?scope=hostile&q=" + Uri.EscapeDataString("a%b"))));
        Assert.Equal(["a_b"], ThreadRouteTests.Ids(await api.GetAsync("/v1/threads?scope=hostile&q=" + Uri.EscapeDataString("a_b"))));
        foreach (var bad in new[] { new string('z', 201), new string('y', 1000), "", "a\u0000b", "tab\there" })
        {
            var reply = await api.PostAsync("/v1/threads", new { scope = "hostile", id = bad });
            Assert.True(reply.Status == 400, $"{bad.Length} chars: {reply.Status}");
            Assert.Equal("id", reply["field"]);
        }
        foreach (var path in new[] { "/v1/threads/hostile/%FF", "/v1/threads/hostile/%C3", "/v1/threads/hostile/a%00b", "/v1/threads/hostile/" + new string('y', 1000) })
        {
            var reply = await api.GetAsync(path);
            Assert.True(reply.Status is 400 or 404, $"{path}: {reply.Status}");
            // Kestrel itself refuses some malformed targets with a bare 400 before the application sees them.
            Assert.True(reply.Problem is not null || reply.Status == 400, path);
        }
    }

    [SkippableFact]
    public async Task Keys_and_message_text_never_reach_the_logs()
    {
        var service = await host.ServiceAsync();
        using var api = service.Client(service.AcmeKey);
        var path = await api.CreateThreadAsync("sec", "quiet", new { system = "system-prompt-marker-5521" });
        await api.TurnAsync(path, "user-text-marker-9907");
        using var bearer = new HttpClient { BaseAddress = service.Server.Url };
        bearer.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", service.GlobexKey);
        Assert.Equal(200, (int)(await bearer.GetAsync("/v1/threads")).StatusCode);
        await api.PostAsync(path + "/turns", """{"content":"bad-json-marker-3313""");
        await Task.Delay(300); // the last log lines
        var log = service.Server.Output;
        Assert.Contains("Request finished", log, StringComparison.Ordinal); // the logs were captured
        foreach (var secret in new[] { service.AcmeKey, service.GlobexKey, service.AcmeKey[..20], "user-text-marker-9907", "system-prompt-marker-5521", "bad-json-marker-3313", "I can see" })
        {
            Assert.DoesNotContain(secret, log, StringComparison.Ordinal);
        }
    }

    internal static string Token(string? tenant, string key = SigningKey, DateTime? expires = null, string audience = "conversation-ledger")
    {
        var claims = tenant is null ? new List<Claim> { new("sub", "user-1") } : [new("sub", "user-1"), new("org", tenant)];
        var credentials = new SigningCredentials(new SymmetricSecurityKey(Convert.FromBase64String(key)), SecurityAlgorithms.HmacSha256);
        var until = expires ?? DateTime.UtcNow.AddMinutes(10);
        var token = new JwtSecurityToken("https://id.example.test", audience, claims, until.AddMinutes(-15), until, credentials);
        return new JwtSecurityTokenHandler().WriteToken(token);
    }
}

public sealed class JwtTests(JwtService host) : IClassFixture<JwtService>
{
    [SkippableFact]
    public async Task A_token_from_the_identity_provider_acts_for_the_tenant_in_its_claim()
    {
        var service = await host.ServiceAsync();
        using var jwt = Bearer(service, SecurityTests.Token("acme"));
        var created = await jwt.PostAsync("/v1/threads", new StringContent("""{"scope":"sso","id":"t1"}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(201, (int)created.StatusCode);
        using var key = service.Client(service.AcmeKey);
        Assert.Equal(200, (await key.GetAsync("/v1/threads/sso/t1")).Status); // the same tenant, however it signed in
        using var other = Bearer(service, SecurityTests.Token("globex"));
        Assert.Equal(404, (int)(await other.GetAsync("/v1/threads/sso/t1")).StatusCode);
    }

    [SkippableFact]
    public async Task Forged_expired_or_tenantless_tokens_are_refused()
    {
        var service = await host.ServiceAsync();
        var forged = SecurityTests.Token("acme", key: Convert.ToBase64String(new byte[48]));
        var expired = SecurityTests.Token("acme", expires: DateTime.UtcNow.AddMinutes(-6)); // beyond the 5 minutes of clock skew allowed
        var wrongAudience = SecurityTests.Token("acme", audience: "someone-else");
        foreach (var token in new[] { forged, expired, wrongAudience, "a.b.c" })
        {
            using var http = Bearer(service, token);
            var reply = await http.GetAsync("/v1/threads");
            Assert.Equal(401, (int)reply.StatusCode);
            Assert.Contains("urn:conversation-ledger:problem:unauthorized", await reply.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        using var tenantless = Bearer(service, SecurityTests.Token(null));
        var refused = await tenantless.GetAsync("/v1/threads");
        Assert.True((int)refused.StatusCode is 401 or 403, refused.StatusCode.ToString());
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
    }

    private static HttpClient Bearer(ServiceFixture service, string token)
    {
        var http = new HttpClient { BaseAddress = service.Server.Url };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        return http;
    }
}
