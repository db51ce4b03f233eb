using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using ConversationLedger.Testing;
using Xunit.Abstractions;

namespace ConversationLedger.Emulator.Tests;

/// <summary>
/// Generated hostile raw HTTP requests to /v1/messages and /v1/messages/count_tokens: valid requests damaged by
/// <see cref="HostileJson"/>, sent with or without chunked framing (sometimes broken) and with odd headers. Every answer must
/// come within 20 s, never be a 5xx, and a 4xx must carry the API's error envelope (unless Kestrel refused the request
/// before the emulator saw it: a bare 400). 400 cases in CI; LEDGER_LONG_TESTS=1 runs 10,000 (LEDGER_FUZZ_SEED sets the seed).
/// </summary>
public sealed class HostileRequestTests(ITestOutputHelper output) : EmulatorTestBase
{
    private static readonly int Cases = HostileJson.LongTests ? 10_000 : 400;

    private static readonly string[] Requests =
    [
        $$$"""{"model":"{{{Model}}}","max_tokens":100,"system":"be brief","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"},{"role":"user","content":[{"type":"text","text":"and?","cache_control":{"type":"ephemeral"}}]}]}""",
        $$$"""{"model":"{{{Model}}}","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"weather?"},{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"w","input":{"city":"Paris"}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"sunny"}]}],"tools":[{"name":"w","input_schema":{"type":"object"}}]}""",
    ];

    // Header lines a client might get wrong; none names a real fault (a planned 500 is not a hostile input).
    private static readonly string[] OddHeaders =
    [
        "anthropic-version: 1999-01-01", "anthropic-version: ", "anthropic-beta: \u00ff\u00fe", "content-type: text/plain", "content-type: application/json; charset=latin1",
        "x-emulator-fault: bogus", "x-emulator-fault: ttft:99999999", "x-emulator-fault: 429:x", "accept: text/event-stream", "x-api-key: ", $"x-api-key: {new string('k', 10_000)}",
        "authorization: Bearer", "content-encoding: gzip", "expect: 100-continue",
    ];

    [Fact]
    public async Task Hostile_requests_get_a_4xx_with_the_error_envelope_never_a_5xx_or_a_hang()
    {
        var random = new Random(HostileJson.Seed);
        var address = new Uri(Url);
        var statuses = new Dictionary<int, int>();
        for (var i = 0; i < Cases; i++)
        {
            var path = random.Next(3) == 0 ? "/v1/messages/count_tokens" : "/v1/messages";
            var (kind, body) = random.Next(8) == 0 ? ("valid", Encoding.UTF8.GetBytes(Requests[i % 2])) : HostileJson.Damage(random, Requests[i % 2]);
            var headers = new List<string> { $"Host: {address.Authority}", $"x-api-key: {Key}", "anthropic-version: 2023-06-01", "content-type: application/json", "Connection: close" };
            if (random.Next(4) == 0)
            {
                headers.Add(HostileJson.Pick(random, OddHeaders));
            }
            var framing = random.Next(4);
            var description = $"case {i} (seed {HostileJson.Seed}): {path}, {kind}, framing {framing}, {headers[^1]}";

            var (status, response) = await SendRawAsync(address, path, headers, body, framing, description);

            statuses[status] = statuses.GetValueOrDefault(status) + 1;
            Assert.True(status is >= 200 and < 500, $"{description}: {status}\n{response}\nbody: {Shown(body)}");
            var content = response[(response.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..];
            if (status >= 400 && content.Length > 0)
            {
                using var envelope = JsonDocument.Parse(content);
                Assert.Equal("error", envelope.RootElement.GetProperty("type").GetString());
                Assert.False(string.IsNullOrEmpty(envelope.RootElement.GetProperty("error").GetProperty("message").GetString()), description);
            }
            else
            {
                Assert.True(status < 400 || status == 400, $"{description}: {status} without the error envelope");
            }
        }
        output.WriteLine($"{Cases} hostile requests (seed {HostileJson.Seed}): " + string.Join(", ", statuses.OrderBy(p => p.Key).Select(p => $"{p.Key}×{p.Value}")));
        Assert.True(statuses.Where(p => p.Key >= 400).Sum(p => p.Value) > Cases / 2);
    }

    [Fact]
    public async Task A_field_name_with_an_unpaired_surrogate_gets_a_400_not_a_500()
    {
        // Found by the fuzz (seed 20261202, case 235): logging whether the body asked for a stream read the field names,
        // and an escaped lone surrogate in one threw before the request reader could refuse it.
        using var response = await PostAsync("/v1/messages", $$$"""{"model":"{{{Model}}}","max_tokens":100,"stream":true,"\ud800messages":[]}""");

        Assert.Equal(System.Net.HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("unpaired surrogate", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    private static string Shown(byte[] body) => body.Length > 2000 ? Encoding.UTF8.GetString(body, 0, 2000) + "…" : Encoding.UTF8.GetString(body);

    // framing: 0-1 Content-Length, 2 chunked, 3 chunked with a broken chunk size.
    private static async Task<(int Status, string Response)> SendRawAsync(Uri address, string path, List<string> headers, byte[] body, int framing, string description)
    {
        using var tcp = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try
        {
            await tcp.ConnectAsync(address.Host, address.Port, timeout.Token);
            var stream = tcp.GetStream();
            var head = new StringBuilder($"POST {path} HTTP/1.1\r\n");
            foreach (var header in headers)
            {
                head.Append(header).Append("\r\n");
            }
            byte[] framed;
            if (framing < 2)
            {
                head.Append($"Content-Length: {body.Length}\r\n");
                framed = body;
            }
            else
            {
                head.Append("Transfer-Encoding: chunked\r\n");
                var size = framing == 2 ? body.Length.ToString("x", System.Globalization.CultureInfo.InvariantCulture) : "zz";
                framed = [.. Encoding.ASCII.GetBytes(size + "\r\n"), .. body, .. "\r\n0\r\n\r\n"u8];
            }
            head.Append("\r\n");
            await stream.WriteAsync(Encoding.UTF8.GetBytes(head.ToString()), timeout.Token);
            try
            {
                await stream.WriteAsync(framed, timeout.Token);
            }
            catch (IOException)
            {
                // The server may answer and close before reading a body it refused; its answer is still there to read.
            }
            var response = await new StreamReader(stream, Encoding.UTF8).ReadToEndAsync(timeout.Token);
            // An interim "100 Continue" (the request sent expect: 100-continue) comes before the answer.
            while (response.StartsWith("HTTP/1.1 1", StringComparison.Ordinal) && response.IndexOf("\r\n\r\n", StringComparison.Ordinal) is > 0 and var end)
            {
                response = response[(end + 4)..];
            }
            Assert.True(response.StartsWith("HTTP/1.1 ", StringComparison.Ordinal), $"{description}: no HTTP answer: {response}");
            return (int.Parse(response.AsSpan(9, 3), System.Globalization.CultureInfo.InvariantCulture), response);
        }
        catch (OperationCanceledException)
        {
            throw new Xunit.Sdk.XunitException($"{description}: no answer within 20 s");
        }
    }
}
