using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace ConversationLedger.Tests.TestSupport;

/// <summary>
/// A hand-written model client whose behaviour each test sets through callback properties (the way
/// Microsoft.Extensions.AI tests use TestChatClient). Without callbacks it answers every request with
/// "reply N" and records every request it was given.
/// </summary>
internal sealed class FakeModelClient : IModelClient
{
    private int _calls;

    public Func<ModelRequest, CancellationToken, Task<ModelResponse>>? SendAsyncCallback { get; set; }

    public Func<ModelRequest, CancellationToken, IAsyncEnumerable<ModelStreamEvent>>? StreamAsyncCallback { get; set; }

    public Func<ModelRequest, CancellationToken, Task<long>>? CountTokensAsyncCallback { get; set; }

    public ConcurrentQueue<ModelRequest> Requests { get; } = new();

    public int Calls => Volatile.Read(ref _calls);

    public Task<ModelResponse> SendAsync(ModelRequest request, CancellationToken cancellationToken = default)
    {
        var call = Interlocked.Increment(ref _calls);
        Requests.Enqueue(request);
        return SendAsyncCallback is { } callback
            ? callback(request, cancellationToken)
            : Task.FromResult(Respond($"reply {call}"));
    }

    public IAsyncEnumerable<ModelStreamEvent> StreamAsync(ModelRequest request, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _calls);
        Requests.Enqueue(request);
        return StreamAsyncCallback is { } callback
            ? callback(request, cancellationToken)
            : StreamText(["Hel", "lo"], cancellationToken);
    }

    public Task<long> CountTokensAsync(ModelRequest request, CancellationToken cancellationToken = default) =>
        CountTokensAsyncCallback is { } callback ? callback(request, cancellationToken) : Task.FromResult(42L);

    /// <summary>A successful reply carrying one assistant text block.</summary>
    public static ModelResponse Respond(string text, TokenUsage? usage = null) =>
        Respond(Message.Assistant(text), usage);

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
}
