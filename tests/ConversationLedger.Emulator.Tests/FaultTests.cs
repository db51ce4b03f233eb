using System.Diagnostics;
using System.Net;
using Anthropic.Exceptions;

namespace ConversationLedger.Emulator.Tests;

public sealed class FaultTests : EmulatorTestBase
{
    private static readonly string Hello = Body(Conversation("Hello"));

    [Fact]
    public async Task A_429_carries_retry_after_and_a_rate_limit_error()
    {
        using var response = await PostAsync("/v1/messages", Hello, headers: ("x-emulator-fault", "429:3"));

        Assert.Equal((HttpStatusCode)429, response.StatusCode);
        Assert.Equal("3", response.Headers.GetValues("retry-after").Single());
        Assert.Equal("3000", response.Headers.GetValues("retry-after-ms").Single());
        Assert.Equal("rate_limit_error", (await JsonAsync(response)).GetProperty("error").GetProperty("type").GetString());
        Assert.StartsWith("req_", RequestIdHeader(response));
    }

    [Fact]
    public async Task Status_faults_surface_as_the_SDK_exceptions()
    {
        var client = Sdk();

        var rateLimited = await Assert.ThrowsAsync<AnthropicRateLimitException>(() => client.Messages.Create(Params(Hello, ("x-emulator-fault", "429"))));
        var overloaded = await Assert.ThrowsAsync<AnthropicOverloadedException>(() => client.Messages.Create(Params(Hello, ("x-emulator-fault", "529"))));
        var internalError = await Assert.ThrowsAsync<Anthropic5xxException>(() => client.Messages.Create(Params(Hello, ("x-emulator-fault", "500"))));

        Assert.Equal("rate_limit_error", rateLimited.Type!.Raw());
        Assert.Equal("overloaded_error", overloaded.Type!.Raw());
        Assert.Equal((HttpStatusCode)529, overloaded.StatusCode);
        Assert.Equal(HttpStatusCode.InternalServerError, internalError.StatusCode);
        Assert.Equal("api_error", internalError.Type!.Raw());
    }

    [Fact]
    public async Task The_SDK_retries_scheduled_429_and_529_and_then_succeeds()
    {
        Server.Faults.Enqueue("429:10ms", "529");
        Server.Script.Enqueue(ScriptedReply.Text("third time lucky"));

        var message = await Sdk(maxRetries: 2).Messages.Create(Params(Hello));

        // Faulted attempts consume no scripted reply.
        Assert.True(message.Content[0].TryPickText(out var text));
        Assert.Equal("third time lucky", text!.Text);
        var attempts = Server.Requests.Snapshot();
        Assert.Equal(3, attempts.Count);
        Assert.Equal(["0", "1", "2"], attempts.Select(a => a.Headers["x-stainless-retry-count"]));
    }

    [Fact]
    public async Task Scheduled_faults_are_consumed_one_per_request()
    {
        using var scheduled = await Http().PostAsync("/_emulator/faults", new StringContent("""{"fault":"500","count":2}"""));

        using var first = await PostAsync("/v1/messages", Hello);
        using var second = await PostAsync("/v1/messages", Hello);
        using var third = await PostAsync("/v1/messages", Hello);

        Assert.Equal(2, (await JsonAsync(scheduled)).GetProperty("queued").GetInt32());
        Assert.Equal(HttpStatusCode.InternalServerError, first.StatusCode);
        Assert.Equal(HttpStatusCode.InternalServerError, second.StatusCode);
        Assert.Equal(HttpStatusCode.OK, third.StatusCode);
    }

    [Fact]
    public async Task A_fault_rate_with_a_seed_is_repeatable()
    {
        var a = new FaultSchedule();
        var b = new FaultSchedule();
        a.SetRate("529", 0.3, seed: 42);
        b.SetRate("529", 0.3, seed: 42);

        var patternA = Enumerable.Range(0, 50).Select(_ => a.Next().Status).ToList();
        var patternB = Enumerable.Range(0, 50).Select(_ => b.Next().Status).ToList();

        Assert.Equal(patternA, patternB);
        Assert.InRange(patternA.Count(s => s == 529), 5, 30);
        using var http = await Http().PostAsync("/_emulator/faults", new StringContent("""{"fault":"529","rate":1,"seed":1}"""));
        using var faulted = await PostAsync("/v1/messages", Hello);
        Assert.Equal((HttpStatusCode)529, faulted.StatusCode);
    }

    [Fact]
    public async Task A_dropped_connection_reaches_the_SDK_as_an_IO_error()
    {
        var ex = await Assert.ThrowsAnyAsync<Exception>(() => Sdk().Messages.Create(Params(Hello, ("x-emulator-fault", "drop"))));

        Assert.True(ex is AnthropicIOException or HttpRequestException or IOException, ex.GetType().FullName);
    }

    [Fact]
    public async Task A_cut_stream_delivers_the_first_events_then_breaks()
    {
        var seen = 0;
        var ex = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await foreach (var _ in Sdk().Messages.CreateStreaming(Params(Hello, ("x-emulator-fault", "cut:3"))))
            {
                seen++;
            }
        });

        Assert.True(ex is IOException or HttpRequestException or AnthropicIOException, ex.GetType().FullName);
        // message_start and content_block_start surface; the ping does not.
        Assert.Equal(2, seen);
    }

    [Fact]
    public async Task An_error_event_mid_stream_is_an_SSE_exception()
    {
        var seen = 0;
        var ex = await Assert.ThrowsAsync<AnthropicSseException>(async () =>
        {
            await foreach (var _ in Sdk().Messages.CreateStreaming(Params(Hello, ("x-emulator-fault", "error-event:4"))))
            {
                seen++;
            }
        });

        Assert.Equal("overloaded_error", ex.Type!.Raw());
        Assert.Equal(3, seen);
    }

    [Fact]
    public async Task Time_to_first_token_and_token_pacing_delay_the_reply()
    {
        var stopwatch = Stopwatch.StartNew();
        TimeSpan? firstDelta = null;
        await foreach (var ev in Sdk().Messages.CreateStreaming(Params(Hello, ("x-emulator-fault", "ttft:300,tps:200"))))
        {
            if (ev.TryPickContentBlockDelta(out _))
            {
                firstDelta ??= stopwatch.Elapsed;
            }
        }
        var streamed = stopwatch.Elapsed;

        Assert.True(firstDelta >= TimeSpan.FromMilliseconds(290), $"first delta after {firstDelta}");
        // About 36 output tokens at 200 per second: at least 150 ms of pacing after the first token.
        Assert.True(streamed - firstDelta >= TimeSpan.FromMilliseconds(100), $"paced for {streamed - firstDelta}");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Pacing_slower_than_one_token_an_hour_is_refused_with_a_400_when_it_is_asked_for(bool stream)
    {
        // Accepted, it would fail the request (the pause is beyond what a timer takes): a 500, which SDKs retry.
        var body = Body(Conversation("Hello"), stream ? "\"stream\":true" : "");

        using var slow = await PostAsync("/v1/messages", body, headers: ("x-emulator-fault", "tps:0.0000001"));
        using var late = await PostAsync("/v1/messages", body, headers: ("x-emulator-fault", "ttft:2147483647"));
        using var scheduled = await Http().PostAsync("/_emulator/faults", new StringContent("""{"fault":"ttft:5,tps:0.0000001","count":1}"""));

        foreach (var response in new[] { slow, late, scheduled })
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("invalid_request_error", (await JsonAsync(response)).GetProperty("error").GetProperty("type").GetString());
        }
        Assert.Contains("at least one token per hour", (await JsonAsync(slow)).GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, Server.Faults.Count);
    }

    [Fact]
    public void A_paced_reply_waits_at_most_the_longest_pause()
    {
        var slowest = FaultSpec.Parse("tps:0.0003");

        Assert.Equal(FaultSpec.MaxDelay, slowest.OutputDelay(1_000_000));
        Assert.Equal(TimeSpan.FromSeconds(1), FaultSpec.Parse("tps:50").OutputDelay(50));
        Assert.Equal(TimeSpan.Zero, FaultSpec.None.OutputDelay(50));
    }

    [Fact]
    public async Task Concurrent_calls_are_each_answered_and_logged()
    {
        var client = Sdk();

        var replies = await Task.WhenAll(Enumerable.Range(0, 40).Select(i =>
            client.Messages.Create(Params(Body(Conversation($"Question number {i}"))))));

        Assert.Equal(40, replies.Select(r => r.ID).Distinct().Count());
        Assert.Equal(40, Server.Requests.Count);
        Assert.All(replies, r => Assert.Equal("end_turn", r.StopReason!.Raw()));
    }

    [Fact]
    public async Task An_unknown_fault_is_a_400()
    {
        using var response = await PostAsync("/v1/messages", Hello, headers: ("x-emulator-fault", "explode"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.StartsWith("x-emulator-fault: unknown fault", (await JsonAsync(response)).GetProperty("error").GetProperty("message").GetString());
    }
}
