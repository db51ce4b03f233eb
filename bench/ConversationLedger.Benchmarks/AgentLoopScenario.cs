using System.Globalization;
using System.Text;
using System.Text.Json;
using ConversationLedger.Anthropic;
using ConversationLedger.Emulator;

namespace ConversationLedger.Benchmarks;

/// <summary>
/// An agent at work against the emulator on Claude Sonnet 5.5, with adaptive thinking on: a 2,000-token system prompt and a tool, some
/// ordinary turns, then one task that takes N tool calls (each result ~800 tokens) before the final answer. Every
/// reply carries a signed thinking block, which the emulator checks against the prompt it was written for, so a
/// policy that moved the prompt under a running loop would be refused. Billed input as the emulator reports it.
/// </summary>
internal static class AgentLoopScenario
{
    private const string Model = "claude-sonnet-5-5";
    public sealed record Row(string Policy, int Calls, int Refused, decimal InputCostUsd, double CacheHitRatio, double LoopCacheHitRatio, long LargestRequestTokens);

    public static IReadOnlyList<(string Name, IHistoryPolicy Policy, bool Caching)> Variants() =>
    [
        ("keep-all, no caching", KeepAllPolicy.Instance, false),
        ("keep-all + prompt caching", KeepAllPolicy.Instance, true),
        ("guide's sliding window (first exchange + last 18)", SlidingWindowPolicy.Guide(20), true),
        ("cache-aware default (pins + summary + window 12, step 24)", LedgerOptions.DefaultPolicy, true),
    ];

    public static async Task<IReadOnlyList<Row>> RunAsync(int turns, int calls, TextWriter progress)
    {
        var rows = new List<Row>();
        foreach (var (name, policy, caching) in Variants())
        {
            rows.Add(await RunOneAsync(name, policy, caching, turns, calls));
            progress.WriteLine($"  {name}: done");
        }
        return rows;
    }

    private static async Task<Row> RunOneAsync(string name, IHistoryPolicy policy, bool caching, int turns, int calls)
    {
        await using var emulator = new EmulatorServer();
        var url = await emulator.StartAsync();
        var models = ModelCatalog.Default;
        var model = new ExtractiveSummaryModel(
            new AnthropicModelClient(new AnthropicModelClientOptions { ApiKey = "bench", BaseUrl = url, MaxRetries = 0 }), models);
        var store = new InMemoryConversationStore();
        var key = new ThreadKey("bench", "agent", "loop");
        // Sonnet 5.5 refuses forced tool use: the emulator is scripted to call the tool, and opens each call with its own
        // signed thinking (adaptive thinking, display omitted by default on this model).
        var chat = new Ledger(store, model, new LedgerOptions
        {
            Model = Model,
            MaxTokens = 4096,
            HistoryPolicy = policy,
            PromptCaching = caching,
            Thinking = ThinkingOptions.Adaptive,
            Tools = Json("""[{"name":"read_log","description":"Reads the next page of the service log","input_schema":{"type":"object","properties":{"page":{"type":"integer"}}}}]"""),
        }).Open(key);
        Task<TurnResult> CallsToolAsync(Message message, int call)
        {
            emulator.Script.Enqueue(new ScriptedReply([ContentBlock.CreateToolUse($"toolu_{call:D4}", "read_log", $$"""{"page":{{call}}}""")]));
            return chat.SendAsync(message);
        }
        await chat.SetSystemPromptAsync(ScenarioText.OfTokens(2000, "You are an on-call assistant with access to the service log.", seed: 7));

        decimal cost = 0;
        long cacheRead = 0, prompt = 0, loopRead = 0, loopPrompt = 0, largest = 0;
        var refused = 0;
        void Count(TurnResult turn, bool inLoop)
        {
            var usage = turn.Usage;
            cost += models.Cost(Model, usage with { OutputTokens = 0 });
            cacheRead += usage.CacheReadInputTokens;
            prompt += usage.TotalInputTokens;
            largest = Math.Max(largest, usage.TotalInputTokens);
            if (inLoop)
            {
                loopRead += usage.CacheReadInputTokens;
                loopPrompt += usage.TotalInputTokens;
            }
        }

        for (var turn = 1; turn <= turns; turn++)
        {
            Count(await chat.SendAsync(ScenarioText.OfTokens(150, $"Question {turn}:", seed: turn)), inLoop: false);
        }
        var last = await CallsToolAsync(Message.User("The checkout service is failing. Read the log until you find the cause."), 0);
        Count(last, inLoop: true);
        for (var call = 1; call <= calls; call++)
        {
            var use = last.Reply.Message.Content.First(b => b.ToolUse is not null).ToolUse!;
            var result = new Message(Role.User, [ContentBlock.CreateToolResult(use.Id, ScenarioText.OfTokens(800, $"Log page {call}:", seed: 100 + call))]);
            try
            {
                // After the last result the model answers instead of calling again.
                last = call == calls ? await chat.SendAsync(result) : await CallsToolAsync(result, call);
                Count(last, inLoop: true);
            }
            catch (ModelCallException)
            {
                refused++;
                break;
            }
        }
        return new Row(name, calls, refused, cost + model.SummaryCostUsd, Ratio(cacheRead, prompt), Ratio(loopRead, loopPrompt), largest);
    }

    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement.Clone();

    private static double Ratio(long part, long whole) => whole == 0 ? 0 : (double)part / whole;

    public static string Table(IReadOnlyList<Row> rows)
    {
        var naive = rows[0].InputCostUsd;
        var cached = rows[1].InputCostUsd;
        var table = new StringBuilder();
        table.AppendLine("| policy | tool calls | refused by the API checks | billed input $ | vs keep-all | vs keep-all + caching | cache hit ratio | cache hit ratio in the loop | largest request (tokens) |");
        table.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in rows)
        {
            table.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.Policy} | {r.Calls} | {r.Refused} | {r.InputCostUsd:F4} | {Percent(r.InputCostUsd, naive)} | {Percent(r.InputCostUsd, cached)} | {r.CacheHitRatio:P1} | {r.LoopCacheHitRatio:P1} | {r.LargestRequestTokens:N0} |");
        }
        return table.ToString();
    }

    private static string Percent(decimal value, decimal of) => of == 0 ? "–" : (value / of).ToString("P1", CultureInfo.InvariantCulture);
}
