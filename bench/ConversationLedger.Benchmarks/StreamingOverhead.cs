using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Anthropic;
using ConversationLedger.Anthropic;
using ConversationLedger.Emulator;
using SdkParams = Anthropic.Models.Messages.MessageCreateParams;

namespace ConversationLedger.Benchmarks;

/// <summary>
/// Time to first token through the ledger (<see cref="Conversation.StreamAsync(string, CancellationToken)"/> over
/// <see cref="AnthropicModelClient"/>, in-memory store) against the official SDK's <c>CreateStreaming</c> sent the
/// very same request body, both to one in-process emulator. Each pair runs back to back in alternating order, so
/// drift (JIT, GC, the other engineers' builds) hits both sides; the difference per pair is what is reported.
/// </summary>
internal static class StreamingOverhead
{
    public sealed record Result(int Runs, int HistoryMessages, double LedgerP50, double DirectP50, double AddedP50, double AddedP95, double AddedMean, double PrepareP50);

    private const string Question = "And what happens to the parked messages after an hour?";

    public static async Task<Result> RunAsync(int runs, int historyMessages, TextWriter progress)
    {
        await using var emulator = new EmulatorServer();
        var url = await emulator.StartAsync();
        var store = new InMemoryConversationStore();
        var ledger = new Ledger(store, new AnthropicModelClient(new AnthropicModelClientOptions { ApiKey = "bench", BaseUrl = url, MaxRetries = 0 }));
        var sdk = new AnthropicClient { ApiKey = "bench", BaseUrl = url, MaxRetries = 0 };
        var reply = ScriptedReply.Text(ScenarioText.OfTokens(60, "Parked messages stay for an hour, then", seed: 7));

        // The direct side sends exactly the body the ledger would send for the same thread; built once, outside timing.
        var template = await NewThreadAsync(store, historyMessages);
        var prepared = await ledger.Open(template).PreviewAsync(Message.User(Question));
        var parameters = SdkParams.FromRawUnchecked(
            prepared.Request.Headers.ToDictionary(h => h.Key, h => JsonSerializer.SerializeToElement(h.Value)),
            new Dictionary<string, JsonElement>(),
            JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(prepared.ToJson())!);

        var warmup = Math.Min(30, Math.Max(2, runs / 10));
        var added = new List<double>();
        var ledgerTimes = new List<double>();
        var directTimes = new List<double>();
        var prepareTimes = new List<double>();
        for (var i = -warmup; i < runs; i++)
        {
            var key = await NewThreadAsync(store, historyMessages);
            double viaLedger, direct;
            if ((i & 1) == 0)
            {
                viaLedger = await LedgerTtftAsync(emulator, reply, ledger.Open(key), i == -warmup ? prepared.ToJson() : null);
                direct = await DirectTtftAsync(emulator, reply, sdk, parameters);
            }
            else
            {
                direct = await DirectTtftAsync(emulator, reply, sdk, parameters);
                viaLedger = await LedgerTtftAsync(emulator, reply, ledger.Open(key), null);
            }
            // The ledger's own share before the request leaves: window read, policy, counting, request build, validation.
            var prepareStart = Stopwatch.GetTimestamp();
            _ = await ledger.Open(key).PreviewAsync(Message.User(Question));
            var prepare = Stopwatch.GetElapsedTime(prepareStart).TotalMilliseconds;
            if (i >= 0)
            {
                prepareTimes.Add(prepare);
                ledgerTimes.Add(viaLedger);
                directTimes.Add(direct);
                added.Add(viaLedger - direct);
            }
        }
        progress.WriteLine($"  streaming: {runs} pairs done");
        return new Result(runs, historyMessages, Percentile(ledgerTimes, 0.5), Percentile(directTimes, 0.5),
            Percentile(added, 0.5), Percentile(added, 0.95), added.Average(), Percentile(prepareTimes, 0.5));
    }

    private static async Task<ThreadKey> NewThreadAsync(InMemoryConversationStore store, int messages)
    {
        var key = new ThreadKey("bench", "streaming", Guid.NewGuid().ToString("N"));
        if (messages > 0)
        {
            var entries = new List<LedgerEntry>();
            for (var m = 0; m < messages; m += 2)
            {
                var user = Message.User(ScenarioText.OfTokens(40, $"Question {m}:", seed: m));
                var answer = Message.Assistant(ScenarioText.OfTokens(60, $"Answer {m}:", seed: 10_000 + m));
                entries.Add(new MessageEntry(user) { Tokens = O200kTokenCounter.Instance.CountTokens(user) });
                entries.Add(new MessageEntry(answer) { Tokens = O200kTokenCounter.Instance.CountTokens(answer) });
            }
            await store.AppendAsync(key, 0, entries);
        }
        return key;
    }

    // From the call to the first text delta; then the stream is drained, so the turn commits as usual.
    private static async Task<double> LedgerTtftAsync(EmulatorServer emulator, ScriptedReply reply, Conversation chat, string? expectedBody)
    {
        emulator.Script.Enqueue(reply);
        var start = Stopwatch.GetTimestamp();
        double? first = null;
        TurnResult? committed = null;
        await foreach (var update in chat.StreamAsync(Question))
        {
            if (first is null && update is TurnTextDelta)
            {
                first = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }
            if (update is TurnCommitted done)
            {
                committed = done.Turn;
            }
        }
        if (committed is null || first is null)
        {
            throw new InvalidOperationException("the ledger's stream ended without text or without committing");
        }
        if (expectedBody is not null && committed.Request.ToJson() != expectedBody)
        {
            throw new InvalidOperationException("the ledger sent a different request from the one the SDK is timed with");
        }
        return first.Value;
    }

    private static async Task<double> DirectTtftAsync(EmulatorServer emulator, ScriptedReply reply, AnthropicClient sdk, SdkParams parameters)
    {
        emulator.Script.Enqueue(reply);
        var start = Stopwatch.GetTimestamp();
        double? first = null;
        await foreach (var streamEvent in sdk.Messages.CreateStreaming(parameters))
        {
            if (first is null && streamEvent.TryPickContentBlockDelta(out var delta) && delta.Delta.TryPickText(out _))
            {
                first = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }
        }
        return first ?? throw new InvalidOperationException("the SDK's stream ended without text");
    }

    private static double Percentile(List<double> values, double p)
    {
        var sorted = values.Order().ToArray();
        return sorted[Math.Min(sorted.Length - 1, (int)(sorted.Length * p))];
    }

    public static string Table(Result r)
    {
        var text = new StringBuilder();
        text.AppendLine("| runs (pairs) | history messages | TTFT via ledger p50 ms | TTFT SDK direct p50 ms | added p50 ms | added p95 ms | added mean ms | ledger prepare alone (PreviewAsync) p50 ms | target |");
        text.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        text.AppendLine(CultureInfo.InvariantCulture,
            $"| {r.Runs} | {r.HistoryMessages} | {r.LedgerP50:F3} | {r.DirectP50:F3} | {r.AddedP50:F3} | {r.AddedP95:F3} | {r.AddedMean:F3} | {r.PrepareP50:F3} | < 1 ms at p50: {(r.AddedP50 < 1 ? "met" : "missed")} |");
        return text.ToString();
    }
}
