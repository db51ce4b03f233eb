using System.Runtime.CompilerServices;

namespace ConversationLedger.Testing;

/// <summary>
/// The one hand-written model of the test projects (linked into each that needs a model without HTTP; tests that can run
/// the real SDK against the emulator do that instead). It records every request and answers each call with
/// <see cref="Reply"/> ("reply N" unless set), streamed word by word; a callback replaces any call entirely (the way
/// Microsoft.Extensions.AI tests use TestChatClient), and switches cover what streams and failures do.
/// </summary>
public sealed class FakeModel : IModelClient
{
    private readonly List<ModelRequest> _requests = [];
    private int _calls;

    /// <summary>Every request received, in order.</summary>
    public IReadOnlyList<ModelRequest> Requests
    {
        get
        {
            lock (_requests)
            {
                return _requests.ToArray();
            }
        }
    }

    /// <summary>How many calls were made (count_tokens aside).</summary>
    public int Calls => Volatile.Read(ref _calls);

    /// <summary>The reply text for a request and the call's number (1 for the first). <value>The default value answers "reply N".</value></summary>
    public Func<ModelRequest, int, string> Reply { get; set; } = static (_, call) => $"reply {call}";

    /// <summary>Replaces <see cref="SendAsync"/> (the call is still counted and recorded).</summary>
    public Func<ModelRequest, CancellationToken, Task<ModelResponse>>? SendAsyncCallback { get; set; }

    /// <summary>Replaces <see cref="StreamAsync"/> (the call is still counted and recorded).</summary>
    public Func<ModelRequest, CancellationToken, IAsyncEnumerable<ModelStreamEvent>>? StreamAsyncCallback { get; set; }

    /// <summary>Replaces <see cref="CountTokensAsync"/>.</summary>
    public Func<ModelRequest, CancellationToken, Task<long>>? CountTokensAsyncCallback { get; set; }

    /// <summary>How long every answer takes. <value>The default value is none.</value></summary>
    public TimeSpan Latency { get; set; }

    /// <summary>Thrown by the next call instead of answering.</summary>
    public Exception? FailNext { get; set; }

    /// <summary>The prompt tokens each reply reports (count_tokens answers the same). <value>The default value is 10.</value></summary>
    public long InputTokens { get; set; } = 10;

    /// <summary>The output tokens each reply reports. <value>The default value is 5.</value></summary>
    public long OutputTokens { get; set; } = 5;

    /// <summary>The stop reason of every reply. <value>The default value is end_turn.</value></summary>
    public string StopReason { get; set; } = "end_turn";

    /// <summary>Whether streams begin by reporting their usage, as the API's message_start does.</summary>
    public bool ReportsStart { get; set; }

    /// <summary>Thinking text streamed (and stored, signed) before each reply, when set.</summary>
    public string? Thinking { get; set; }

    /// <summary>When set, streams pause after the first delta (and whole replies before answering) until cancelled.</summary>
    public bool HoldStream { get; set; }

    /// <summary>Signalled when a held stream has sent its first delta.</summary>
    public TaskCompletionSource FirstDeltaSent { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <inheritdoc />
    public async Task<ModelResponse> SendAsync(ModelRequest request, CancellationToken cancellationToken = default)
    {
        var call = Record(request);
        if (SendAsyncCallback is { } callback)
        {
            return await callback(request, cancellationToken);
        }
        if (HoldStream)
        {
            FirstDeltaSent.TrySetResult();
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        await WaitAsync(cancellationToken);
        return Response(request, call);
    }

    /// <inheritdoc />
    public IAsyncEnumerable<ModelStreamEvent> StreamAsync(ModelRequest request, CancellationToken cancellationToken = default)
    {
        var call = Record(request);
        return StreamAsyncCallback is { } callback ? callback(request, cancellationToken) : StreamReplyAsync(request, call, cancellationToken);
    }

    /// <inheritdoc />
    public Task<long> CountTokensAsync(ModelRequest request, CancellationToken cancellationToken = default) =>
        CountTokensAsyncCallback is { } callback ? callback(request, cancellationToken) : Task.FromResult(InputTokens);

    /// <summary>A successful reply carrying one assistant text block.</summary>
    public static ModelResponse Respond(string text, TokenUsage? usage = null) => Respond(Message.Assistant(text), usage);

    /// <summary>A successful reply carrying the given assistant message.</summary>
    public static ModelResponse Respond(Message reply, TokenUsage? usage = null) => new(
        Id: "msg_" + Guid.NewGuid().ToString("N"),
        Model: "claude-sonnet-5-5",
        Message: reply,
        StopReason: "end_turn",
        Usage: usage ?? new TokenUsage { InputTokens = 10, OutputTokens = 5 },
        RequestId: "req_test");

    /// <summary>Streams text deltas, then the assembled reply.</summary>
    public static async IAsyncEnumerable<ModelStreamEvent> StreamText(
        IReadOnlyList<string> parts, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        foreach (var part in parts)
        {
            cancellationToken.ThrowIfCancellationRequested();
            await Task.Yield();
            yield return new TextDelta(0, part);
        }
        yield return new StreamCompleted(Respond(string.Concat(parts)));
    }

    private async IAsyncEnumerable<ModelStreamEvent> StreamReplyAsync(ModelRequest request, int call, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await WaitAsync(cancellationToken);
        var response = Response(request, call);
        if (ReportsStart)
        {
            yield return new StreamStarted(request.Model, new TokenUsage { InputTokens = InputTokens, OutputTokens = 1 }, "req_fake_start");
        }
        if (Thinking is { } thinking)
        {
            yield return new ThinkingDelta(0, thinking);
            response = response with { Message = new Message(Role.Assistant, [ContentBlock.CreateThinking(thinking, "sig-test"), .. response.Message.Content]) };
        }
        var words = response.Message.Text.Split(' ');
        for (var i = 0; i < words.Length; i++)
        {
            yield return new TextDelta(0, (i == 0 ? "" : " ") + words[i]);
            if (i == 0 && HoldStream)
            {
                FirstDeltaSent.TrySetResult();
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            await Task.Yield();
        }
        yield return new StreamCompleted(response);
    }

    private int Record(ModelRequest request)
    {
        var call = Interlocked.Increment(ref _calls);
        if (FailNext is { } failure)
        {
            FailNext = null;
            throw failure;
        }
        lock (_requests)
        {
            _requests.Add(request);
        }
        return call;
    }

    private Task WaitAsync(CancellationToken cancellationToken) => Latency > TimeSpan.Zero ? Task.Delay(Latency, cancellationToken) : Task.CompletedTask;

    private ModelResponse Response(ModelRequest request, int call) => new(
        "msg_fake_" + call, request.Model, Message.Assistant(Reply(request, call)), StopReason,
        new TokenUsage { InputTokens = InputTokens, OutputTokens = OutputTokens }, "req_test");
}
