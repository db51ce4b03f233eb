using System.Net;
using System.Text;
using System.Text.Json;

namespace ConversationLedger.Emulator.Tests;

/// <summary>What the SDK hides: headers, the error envelope, the raw SSE stream, the control endpoints.</summary>
public sealed class HttpTests : EmulatorTestBase
{
    [Fact]
    public async Task Every_response_carries_a_request_id_and_errors_use_the_envelope()
    {
        using var health = await Http().GetAsync("/health");
        using var missing = await Http().GetAsync("/v2/nothing");
        using var wrongMethod = await Http().GetAsync("/v1/messages");
        using var noKey = await PostAsync("/v1/messages", Body(Conversation("Hi")), apiKey: null);
        using var ok = await PostAsync("/v1/messages", Body(Conversation("Hi")));

        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.StartsWith("req_", RequestIdHeader(health));
        Assert.StartsWith("req_", RequestIdHeader(ok));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, noKey.StatusCode);
        var envelope = await JsonAsync(noKey);
        Assert.Equal("error", envelope.GetProperty("type").GetString());
        Assert.Equal("authentication_error", envelope.GetProperty("error").GetProperty("type").GetString());
        Assert.Equal("x-api-key header is required", envelope.GetProperty("error").GetProperty("message").GetString());
        Assert.Equal(RequestIdHeader(noKey), envelope.GetProperty("request_id").GetString());
        Assert.Equal(RequestIdHeader(missing), (await JsonAsync(missing)).GetProperty("request_id").GetString());
        Assert.Equal(HttpStatusCode.NotFound, wrongMethod.StatusCode);
        Assert.Equal(RequestIdHeader(wrongMethod), (await JsonAsync(wrongMethod)).GetProperty("request_id").GetString());
    }

    [Fact]
    public async Task The_response_has_every_usage_field()
    {
        using var response = await PostAsync("/v1/messages", Body(Conversation("Hi")));

        var json = await JsonAsync(response);
        Assert.Equal("message", json.GetProperty("type").GetString());
        Assert.Equal("assistant", json.GetProperty("role").GetString());
        Assert.Equal(JsonValueKind.Null, json.GetProperty("stop_sequence").ValueKind);
        var usage = json.GetProperty("usage");
        foreach (var field in (string[])["input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"])
        {
            Assert.Equal(JsonValueKind.Number, usage.GetProperty(field).ValueKind);
        }
        Assert.Equal(0, usage.GetProperty("cache_creation").GetProperty("ephemeral_5m_input_tokens").GetInt32());
        Assert.Equal(0, usage.GetProperty("cache_creation").GetProperty("ephemeral_1h_input_tokens").GetInt32());
        Assert.Equal("standard", usage.GetProperty("service_tier").GetString());
    }

    [Fact]
    public async Task A_request_without_an_anthropic_version_header_is_refused_as_the_API_refuses_it()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/messages")
        {
            Content = new StringContent(Body(Conversation("Hi")), Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("x-api-key", Key);

        using var response = await Http().SendAsync(request);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("anthropic-version: header is required", (await JsonAsync(response)).GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task Bearer_and_x_api_key_are_both_accepted()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/messages")
        {
            Content = new StringContent(Body(Conversation("Hi")), Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "k");
        request.Headers.Add("anthropic-version", "2026-10-21");
        using var bearer = await Http().SendAsync(request);
        using var apiKey = await PostAsync("/v1/messages", Body(Conversation("Hi")), apiKey: "k");

        Assert.Equal(HttpStatusCode.OK, bearer.StatusCode);
        Assert.Equal(HttpStatusCode.OK, apiKey.StatusCode);
    }

    [Fact]
    public async Task The_raw_stream_follows_the_API_event_order()
    {
        using var response = await PostAsync("/v1/messages", Body(Conversation("Hello there, emulator."), "\"stream\":true"));

        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        Assert.StartsWith("req_", RequestIdHeader(response));
        var events = ParseSse(await response.Content.ReadAsStringAsync());
        var names = events.Select(e => e.Name).ToList();
        Assert.Equal(["message_start", "ping", "content_block_start"], names[..3]);
        Assert.Equal(["content_block_stop", "message_delta", "message_stop"], names[^3..]);
        Assert.All(events, e => Assert.Equal(e.Name, e.Data.GetProperty("type").GetString()));
        var start = events[0].Data.GetProperty("message");
        Assert.Equal(0, start.GetProperty("content").GetArrayLength());
        Assert.Equal(JsonValueKind.Null, start.GetProperty("stop_reason").ValueKind);
        Assert.True(start.GetProperty("usage").GetProperty("input_tokens").GetInt64() > 0);
        Assert.Equal("", events[2].Data.GetProperty("content_block").GetProperty("text").GetString());
        var delta = events[^2].Data;
        Assert.Equal("end_turn", delta.GetProperty("delta").GetProperty("stop_reason").GetString());
        Assert.True(delta.GetProperty("usage").GetProperty("output_tokens").GetInt64() > 1);
    }

    public static TheoryData<string> Hostile => new()
    {
        "[1",
        "",
        "\"just a string\"",
        "null",
        """{"model":5,"max_tokens":10,"messages":[]}""",
        """{"model":"claude-opus-4-1","max_tokens":"10","messages":[]}""",
        """{"model":"claude-opus-4-1","max_tokens":10.5,"messages":[]}""",
        """{"model":"claude-opus-4-1","max_tokens":-1,"messages":[]}""",
        """{"model":"claude-opus-4-1","max_tokens":99999999999999999999,"messages":[]}""",
        """{"model":"claude-opus-4-1","max_tokens":10,"messages":[1]}""",
        """{"model":"claude-opus-4-1","max_tokens":10,"messages":[{"role":"user"}]}""",
        """{"model":"claude-opus-4-1","max_tokens":10,"messages":[{"role":7,"content":"x"}]}""",
        """{"model":"claude-opus-4-1","max_tokens":10,"messages":[{"role":"user","content":5}]}""",
        """{"model":"claude-opus-4-1","max_tokens":10,"messages":[{"role":"user","content":[5]}]}""",
        """{"model":"claude-opus-4-1","max_tokens":10,"messages":[{"role":"user","content":[{"text":"no type"}]}]}""",
        """{"model":"claude-opus-4-1","max_tokens":10,"messages":[{"role":"user","content":[{"type":5}]}]}""",
        """{"model":"claude-opus-4-1","max_tokens":10,"messages":[{"role":"user","content":[{"type":"text","text":5}]}]}""",
        """{"model":"claude-opus-4-1","max_tokens":10,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":3}]}]}""",
        """{"model":"claude-opus-4-1","max_tokens":10,"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":"x"}]}]}""",
        """{"model":"claude-opus-4-1","max_tokens":10,"messages":[{"role":"user","content":"x","extra":1}]}""",
        """{"model":"claude-opus-4-1","max_tokens":10,"messages":[{"role":"user","content":"x"}],"system":5}""",
        """{"model":"claude-opus-4-1","max_tokens":10,"messages":[{"role":"user","content":"x"}],"system":[{"type":"image"}]}""",
        """{"model":"claude-opus-4-1","max_tokens":10,"messages":[{"role":"user","content":"x"}],"tools":"x"}""",
        """{"model":"claude-opus-4-1","max_tokens":10,"messages":[{"role":"user","content":"x"}],"tools":[{"name":1}]}""",
        """{"model":"claude-opus-4-1","max_tokens":10,"messages":[{"role":"user","content":"x"}],"stop_sequences":[1]}""",
        """{"model":"claude-opus-4-1","max_tokens":10,"messages":[{"role":"user","content":"x"}],"stream":"yes"}""",
        """{"model":"claude-opus-4-1","max_tokens":10,"messages":[{"role":"user","content":"x"}],"thinking":"on"}""",
        """{"model":"claude-opus-4-1","max_tokens":10,"messages":[{"role":"user","content":"x"}],"thinking":{"type":"enabled","budget_tokens":"x"}}""",
        """{"model":"claude-opus-4-1","max_tokens":10,"messages":[{"role":"user","content":"x"}],"cache_control":{"type":"persistent"}}""",
        """{"model":"claude-opus-4-1","max_tokens":10,"messages":[{"role":"user","content":"x"}],"metadata":[1]}""",
        new string('[', 5000) + new string(']', 5000),
        "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":\"\\ud800\"}],\"x\":1}",
        "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":\"\\ud800\"},{\"role\":\"assistant\",\"content\":\"\"}]}",
        "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"\\udc00x\"},{\"type\":\"text\",\"text\":\" \"}]}]}",
        "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"system\":\"\\ud800\",\"tools\":[{\"name\":\"\\ud800\"}],\"stop_sequences\":[\"\\ud800\"],\"metadata\":{}, \"max_tokens\":99999999}",
    };

    [Theory]
    [MemberData(nameof(Hostile))]
    public async Task Hostile_input_gets_a_clear_400_never_a_500(string body)
    {
        using var response = await PostAsync("/v1/messages", body);
        using var count = await PostAsync("/v1/messages/count_tokens", body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, count.StatusCode);
        var envelope = await JsonAsync(response);
        Assert.Equal("invalid_request_error", envelope.GetProperty("error").GetProperty("type").GetString());
        Assert.False(string.IsNullOrWhiteSpace(envelope.GetProperty("error").GetProperty("message").GetString()));
    }

    [Fact]
    public async Task A_body_over_32_MB_gets_413_with_the_envelope()
    {
        var prefix = Encoding.UTF8.GetBytes($$"""{"model":"{{Model}}","max_tokens":10,"messages":[{"role":"user","content":" """);
        var body = new byte[33 * 1024 * 1024];
        Array.Fill(body, (byte)'x');
        prefix.CopyTo(body, 0);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/messages") { Content = new ByteArrayContent(body) };
        request.Headers.Add("x-api-key", Key);

        using var response = await Http().SendAsync(request);

        Assert.Equal((HttpStatusCode)413, response.StatusCode);
        Assert.Equal("request_too_large", (await JsonAsync(response)).GetProperty("error").GetProperty("type").GetString());
        Assert.StartsWith("req_", RequestIdHeader(response));
    }

    [Theory]
    [InlineData("/v1/messages")]
    [InlineData("/v1/messages/count_tokens")]
    [InlineData("/_emulator/script")]
    [InlineData("/_emulator/faults")]
    public async Task A_body_with_broken_chunked_framing_gets_a_400_with_the_envelope(string path)
    {
        // "zz" is not a chunk size. A 500 here would make SDKs retry a request that can never succeed.
        var address = new Uri(Url);
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(address.Host, address.Port);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"POST {path} HTTP/1.1\r\nHost: {address.Authority}\r\nx-api-key: {Key}\r\nContent-Type: application/json\r\n" +
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"));

        var response = await new StreamReader(stream, Encoding.UTF8).ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(20));

        Assert.StartsWith("HTTP/1.1 400 ", response, StringComparison.Ordinal);
        using var envelope = JsonDocument.Parse(response[(response.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..]);
        Assert.Equal("error", envelope.RootElement.GetProperty("type").GetString());
        Assert.Equal("invalid_request_error", envelope.RootElement.GetProperty("error").GetProperty("type").GetString());
        Assert.StartsWith("req_", envelope.RootElement.GetProperty("request_id").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Scripts_and_the_request_log_are_served_over_http()
    {
        var http = Http();
        using var scripted = await http.PostAsync("/_emulator/script", new StringContent(
            """[{"content":[{"type":"text","text":"scripted one"}],"stop_reason":"end_turn"},"scripted two"]"""));
        using var first = await PostAsync("/v1/messages", Body(Conversation("a")));
        using var second = await PostAsync("/v1/messages", Body(Conversation("b")));

        Assert.Equal(2, (await JsonAsync(scripted)).GetProperty("queued").GetInt32());
        Assert.Equal("scripted one", (await JsonAsync(first)).GetProperty("content")[0].GetProperty("text").GetString());
        Assert.Equal("scripted two", (await JsonAsync(second)).GetProperty("content")[0].GetProperty("text").GetString());
        using var log = await http.GetAsync("/_emulator/requests");
        var entries = await JsonAsync(log);
        Assert.Equal(2, entries.GetArrayLength());
        Assert.Equal("b", entries[1].GetProperty("body").GetProperty("messages")[0].GetProperty("content").GetString());
        Assert.Equal("[redacted]", entries[1].GetProperty("headers").GetProperty("x-api-key").GetString());

        using var cleared = await http.DeleteAsync("/_emulator/requests");
        Assert.Equal(0, Server.Requests.Count);
        using var bad = await http.PostAsync("/_emulator/script", new StringContent("""[{"content":[{"no":"type"}]}]"""));
        using var notText = await http.PostAsync("/_emulator/script", new StringContent("""["\ud800"]"""));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, notText.StatusCode);
    }

    [Fact]
    public async Task Reset_clears_scripts_faults_cache_and_log()
    {
        Server.Script.Enqueue(ScriptedReply.Text("x"));
        Server.Faults.Enqueue("529");
        using var _ = await PostAsync("/v1/messages", Body(Conversation("a")));
        Server.Faults.Enqueue("529");

        using var reset = await Http().PostAsync("/_emulator/reset", null);

        Assert.Equal(HttpStatusCode.OK, reset.StatusCode);
        Assert.Equal(0, Server.Script.Count);
        Assert.Equal(0, Server.Faults.Count);
        Assert.Equal(0, Server.Requests.Count);
        Assert.Equal(0, Server.Cache.Count);
    }

    private static List<(string Name, JsonElement Data)> ParseSse(string text)
    {
        var events = new List<(string, JsonElement)>();
        foreach (var chunk in text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            var lines = chunk.Split('\n');
            var name = lines.Single(l => l.StartsWith("event: ", StringComparison.Ordinal))["event: ".Length..];
            var data = lines.Single(l => l.StartsWith("data: ", StringComparison.Ordinal))["data: ".Length..];
            using var doc = JsonDocument.Parse(data);
            events.Add((name, doc.RootElement.Clone()));
        }
        return events;
    }
}
