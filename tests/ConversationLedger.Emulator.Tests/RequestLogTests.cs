using System.Net;
using System.Text;

namespace ConversationLedger.Emulator.Tests;

/// <summary>The request log keeps the newest requests within its limits, however many arrive.</summary>
public sealed class RequestLogTests : EmulatorTestBase
{
    private const long ByteLimit = 3L * 1024 * 1024 + 512 * 1024;

    protected override EmulatorOptions CreateOptions() =>
        new() { TimeProvider = Clock, MaxLoggedRequests = 4, MaxLoggedBytes = ByteLimit };

    private static string Marker(IEnumerable<LoggedRequest> log) => string.Join(",", log.Select(r => r.Body[..12]));

    [Fact]
    public async Task Large_rejected_requests_keep_the_log_within_its_bytes_and_the_newest_stay()
    {
        // Unauthenticated 1 MB bodies: rejected (401), and logged, as the API's retries and rejections are.
        for (var i = 0; i < 12; i++)
        {
            using var response = await PostAsync("/v1/messages", $"request-{i:D3} " + new string('x', 1024 * 1024), apiKey: null);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }

        var log = Server.Requests.Snapshot();

        Assert.Equal("request-009 ,request-010 ,request-011 ", Marker(log));
        Assert.True(Server.Requests.Bytes <= ByteLimit, $"{Server.Requests.Bytes} bytes kept");
        Assert.Equal(12, Server.Requests.Received);
    }

    [Fact]
    public async Task Many_small_requests_keep_the_log_within_its_count_and_the_newest_stay()
    {
        for (var i = 0; i < 10; i++)
        {
            using var _ = await PostAsync("/v1/messages", $"request-{i:D3} not json");
        }

        using var served = await Http().GetAsync("/_emulator/requests");
        var entries = await JsonAsync(served);

        Assert.Equal("request-006 ,request-007 ,request-008 ,request-009 ", Marker(Server.Requests.Snapshot()));
        Assert.Equal(4, entries.GetArrayLength());
        Assert.Equal("request-009 not json", entries[3].GetProperty("body").GetString());
    }

    [Fact]
    public void A_request_larger_than_the_byte_limit_is_not_kept_and_evicts_nothing()
    {
        var log = new RequestLog(maxRequests: 10, maxBytes: 100);
        var headers = new Dictionary<string, string> { ["x-api-key"] = "[redacted]" };

        log.Add(new LoggedRequest("req_1", default, false, headers, "small"));
        log.Add(new LoggedRequest("req_2", default, false, headers, new string('x', 200)));

        Assert.Equal(["req_1"], log.Snapshot().Select(r => r.RequestId));
        Assert.Equal(5 + "x-api-key".Length + "[redacted]".Length, log.Bytes);
        Assert.Equal(2, log.Received);
    }
}
