using System.Text;

namespace ConversationLedger.Benchmarks;

/// <summary>Deterministic text of a given token length, so scenario runs are repeatable.</summary>
internal static class ScenarioText
{
    private static readonly string[] Words =
    [
        "the", "service", "returns", "a", "timeout", "when", "the", "queue", "is", "full", "and", "we", "retry", "with",
        "backoff", "deploy", "config", "latency", "handler", "request", "users", "report", "slow", "pages", "after",
        "release", "database", "index", "query", "plan", "cache", "warm", "cold", "shard", "replica", "metrics",
    ];

    /// <summary>Text of about <paramref name="tokens"/> o200k tokens, starting with <paramref name="lead"/>.</summary>
    public static string OfTokens(int tokens, string lead, int seed)
    {
        var random = new Random(seed);
        var text = new StringBuilder(lead);
        var count = O200kTokenCounter.CountText(lead);
        while (count < tokens)
        {
            var sentence = new StringBuilder(" ");
            var length = random.Next(8, 20);
            for (var i = 0; i < length; i++)
            {
                sentence.Append(i == 0 ? char.ToUpperInvariant(Words[random.Next(Words.Length)][0]) + Words[random.Next(Words.Length)][1..] : Words[random.Next(Words.Length)]);
                sentence.Append(i == length - 1 ? "." : " ");
            }
            text.Append(sentence);
            count += O200kTokenCounter.CountText(sentence.ToString());
        }
        return text.ToString();
    }
}
