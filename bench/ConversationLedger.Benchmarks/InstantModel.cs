using System.Runtime.CompilerServices;

namespace ConversationLedger.Benchmarks;

/// <summary>A model that answers at once, so a turn's measured time is the ledger's own work (prepare + commit).</summary>
internal sealed class InstantModel : IModelClient
{
    private static readonly ModelResponse Reply = new("msg_bench", "claude-sonnet-5-5",
        Message.Assistant("Understood; here is a short answer with enough words to look like a reply."), "end_turn",
        new TokenUsage { InputTokens = 1000, OutputTokens = 20 }, null);

    public Task<ModelResponse> SendAsync(ModelRequest request, CancellationToken cancellationToken = default) => Task.FromResult(Reply);

    public async IAsyncEnumerable<ModelStreamEvent> StreamAsync(ModelRequest request, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await Task.CompletedTask;
        yield return new TextDelta(0, Reply.Message.Text);
        yield return new StreamCompleted(Reply);
    }

    public Task<long> CountTokensAsync(ModelRequest request, CancellationToken cancellationToken = default) => Task.FromResult(1000L);
}
