using System.Runtime.CompilerServices;

namespace ConversationLedger.Cli.Tests.Support;

/// <summary>
/// A hand-written model: its reply says how many messages it received and the earliest user text, as the
/// emulator's does, so statelessness shows in the output. Streams the reply in words; <see cref="HoldStream"/>
/// makes a stream stop after its first word until it is cancelled.
/// </summary>
public sealed class FakeModel : IModelClient
{
    private readonly List<ModelRequest> _requests = [];

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

    /// <summary>When set, streams pause after the first delta (and whole replies before answering) until cancelled.</summary>
    public bool HoldStream { get; set; }

    /// <summary>Signalled when a held stream has sent its first delta.</summary>
    public TaskCompletionSource FirstDeltaSent { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Thrown by the next call instead of answering.</summary>
    public Exception? FailNext { get; set; }

    /// <summary>The prompt tokens each reply reports.</summary>
    public long InputTokens { get; set; } = 100;

    /// <summary>The reply text for a request.</summary>
    public static string ReplyTo(ModelRequest request)
    {
        var earliest = request.Messages.First(m => m.Role == Role.User).Text;
        return $"I can see {request.Messages.Count} messages. Earliest user text: \"{earliest}\".";
    }

    /// <inheritdoc />
    public async Task<ModelResponse> SendAsync(ModelRequest request, CancellationToken cancellationToken = default)
    {
        Record(request);
        if (HoldStream)
        {
            FirstDeltaSent.TrySetResult();
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        return Response(request);
    }

    /// <summary>Whether streams begin by reporting their usage, as the API's message_start does.</summary>
    public bool ReportsStart { get; set; }

    /// <summary>Thinking text streamed (and stored, signed) before each reply, when set.</summary>
    public string? Thinking { get; set; }

    /// <inheritdoc />
    public async IAsyncEnumerable<ModelStreamEvent> StreamAsync(ModelRequest request, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        Record(request);
        var response = Response(request);
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

    /// <inheritdoc />
    public Task<long> CountTokensAsync(ModelRequest request, CancellationToken cancellationToken = default) => Task.FromResult(InputTokens);

    private void Record(ModelRequest request)
    {
        if (FailNext is { } failure)
        {
            FailNext = null;
            throw failure;
        }
        lock (_requests)
        {
            _requests.Add(request);
        }
    }

    /// <summary>The stop reason of every reply.</summary>
    public string StopReason { get; set; } = "end_turn";

    private ModelResponse Response(ModelRequest request) => new(
        "msg_fake", request.Model, Message.Assistant(ReplyTo(request)), StopReason,
        new TokenUsage { InputTokens = InputTokens, OutputTokens = 12 }, "req_fake");
}
