using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;

namespace ConversationLedger.Benchmarks;

/// <summary>
/// Stands in for Claude on summary requests only (the emulator cannot summarize): it keeps the previous summary
/// and every sentence of the dropped messages that carries a name, a number, an identifier or an error — what the
/// summary prompt asks Claude to keep — and bills the call by the same token counter the emulator uses.
/// Every other request goes to the real adapter and the emulator.
/// </summary>
internal sealed partial class ExtractiveSummaryModel(IModelClient inner, ModelCatalog models) : IModelClient
{
    public int SummaryCalls { get; private set; }

    public decimal SummaryCostUsd { get; private set; }

    public Task<ModelResponse> SendAsync(ModelRequest request, CancellationToken cancellationToken = default)
    {
        if (request.System.Count == 0 || request.System[0].Text != HistorySummarizer.Instructions)
        {
            return inner.SendAsync(request, cancellationToken);
        }
        var input = request.Messages[0].Text;
        var previous = Between(input, "Previous summary:\n", "\n\nNew messages:\n");
        var dropped = Between(input, "\n\nNew messages:\n", "\nWrite the updated summary.");
        var kept = Sentences().Split(dropped)
            .Select(s => Label().Replace(s.Trim(), ""))
            .Where(s => Factual().IsMatch(s))
            .Select(s => "- " + s.Trim());
        var summary = string.Join("\n", (previous == "(none)" ? [] : previous.Split('\n')).Concat(kept).Distinct());
        var usage = new TokenUsage
        {
            InputTokens = O200kTokenCounter.Instance.CountTokens(request),
            OutputTokens = O200kTokenCounter.CountText(summary),
        };
        SummaryCalls++;
        SummaryCostUsd += models.Cost(request.Model, usage);
        var reply = new ModelResponse($"msg_summary_{SummaryCalls}", request.Model, Message.Assistant(summary.Length == 0 ? "- (nothing notable)" : summary), "end_turn", usage, null);
        return Task.FromResult(reply);
    }

    public async IAsyncEnumerable<ModelStreamEvent> StreamAsync(ModelRequest request, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var e in inner.StreamAsync(request, cancellationToken))
        {
            yield return e;
        }
    }

    public Task<long> CountTokensAsync(ModelRequest request, CancellationToken cancellationToken = default) =>
        inner.CountTokensAsync(request, cancellationToken);

    private static string Between(string text, string start, string end)
    {
        var from = text.IndexOf(start, StringComparison.Ordinal);
        if (from < 0)
        {
            return "";
        }
        from += start.Length;
        var to = text.IndexOf(end, from, StringComparison.Ordinal);
        return to < 0 ? text[from..] : text[from..to];
    }

    [GeneratedRegex(@"(?<=[.!?\n])\s+")]
    private static partial Regex Sentences();

    // Numbers, identifiers with punctuation inside, error words, and names (a capitalised word inside a sentence).
    [GeneratedRegex(@"\d|[A-Za-z]+[_./:-][A-Za-z0-9]|\b(?:error|Error|exception|failed)\b|(?<=\w\s)[A-Z][a-z]{2,}")]
    private static partial Regex Factual();

    // The scenario's "Question 12:" / "Reply 12:" labels are bookkeeping, not facts.
    [GeneratedRegex(@"^(?:User|Assistant):\s*|^(?:Question|Reply) \d+:\s*|(?<=^(?:User|Assistant):\s*)(?:Question|Reply) \d+:\s*")]
    private static partial Regex Label();
}
