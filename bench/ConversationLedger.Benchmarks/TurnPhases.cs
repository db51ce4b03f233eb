using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace ConversationLedger.Benchmarks;

/// <summary>
/// A Stopwatch breakdown of one ledger turn into the phases <see cref="Conversation"/> runs, rebuilt from public
/// APIs (no profiler offline): window read (the store's range reads + projection), policy selection, token counts
/// (new message and reply), request build (what PreviewAsync adds on top of those), validation (the request,
/// then request + reply as history), and the atomic append. The sum is close to, not exactly, a whole turn.
/// </summary>
internal static class TurnPhases
{
    public static readonly string[] Names = ["window read", "policy", "token count", "request build", "validation", "append"];

    public sealed record Row(string Store, string Policy, long Messages, double[] MedianMs, double WholeTurnMs);

    public static async Task<Row> MeasureAsync(string storeName, IConversationStore store, ThreadKey key, string policyName, IHistoryPolicy policy, long length, int turns, double wholeTurnMs)
    {
        var options = new LedgerOptions { HistoryPolicy = policy, PinFirstExchange = false };
        var chat = new Ledger(store, new InstantModel(), options).Open(key);
        var counter = O200kTokenCounter.Instance;
        var user = Message.User("And what happens to the parked messages after an hour?");
        var reply = Message.Assistant("Understood; here is a short answer with enough words to look like a reply.");
        var samples = Names.Select(_ => new double[turns]).ToArray();
        for (var i = -Math.Min(10, turns); i < turns; i++)
        {
            var t0 = Stopwatch.GetTimestamp();
            var view = ConversationView.Project(await store.ReadWindowAsync(key, policy.Plan()));
            var t1 = Stopwatch.GetTimestamp();
            var selection = policy.Select(view);
            var t2 = Stopwatch.GetTimestamp();
            int userTokens = counter.CountTokens(user), replyTokens = counter.CountTokens(reply);
            var t3 = Stopwatch.GetTimestamp();
            var prepared = await chat.PreviewAsync(user);
            var t4 = Stopwatch.GetTimestamp();
            ConversationValidator.ThrowIfInvalid(prepared.Request.Messages, ValidationOptions.StrictRequest);
            _ = ConversationValidator.Validate([.. prepared.Request.Messages, reply], ValidationOptions.StrictHistory);
            var t5 = Stopwatch.GetTimestamp();
            await store.AppendAsync(key, view.Head.LastSequence,
            [
                new MessageEntry(user) { Tokens = userTokens },
                new MessageEntry(reply) { Tokens = replyTokens },
                new UsageEntry(new UsageRecord("claude-sonnet-5-5", new TokenUsage { InputTokens = 1000, OutputTokens = 20 }, 0.002m)),
            ]);
            var t6 = Stopwatch.GetTimestamp();
            if (i < 0)
            {
                continue;
            }
            double Ms(long a, long b) => Stopwatch.GetElapsedTime(a, b).TotalMilliseconds;
            var read = Ms(t0, t1);
            samples[0][i] = read;
            samples[1][i] = Ms(t1, t2);
            samples[2][i] = Ms(t2, t3);
            // PreviewAsync repeats read, policy and the user's count; what is left is building the request.
            samples[3][i] = Math.Max(0, Ms(t3, t4) - read - Ms(t1, t2) - Ms(t2, t3) / 2);
            samples[4][i] = Ms(t4, t5);
            samples[5][i] = Ms(t5, t6);
        }
        var medians = samples.Select(s => { Array.Sort(s); return s[turns / 2]; }).ToArray();
        return new Row(storeName, policyName, length, medians, wholeTurnMs);
    }

    public static string Table(IReadOnlyList<Row> rows)
    {
        var text = new StringBuilder();
        text.AppendLine($"| store | policy | messages | {string.Join(" | ", Names)} | sum of phases | whole turn (median) |");
        text.AppendLine("|---|---|---:|" + string.Concat(Enumerable.Repeat("---:|", Names.Length + 2)));
        foreach (var r in rows)
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.Store} | {r.Policy} | {r.Messages:N0} | {string.Join(" | ", r.MedianMs.Select(m => m.ToString("F3", CultureInfo.InvariantCulture)))} | {r.MedianMs.Sum():F3} | {r.WholeTurnMs:F3} |");
        }
        return text.ToString();
    }
}
