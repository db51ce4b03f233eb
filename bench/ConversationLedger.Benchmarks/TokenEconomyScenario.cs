using System.Globalization;
using System.Text;
using ConversationLedger.Anthropic;
using ConversationLedger.Emulator;

namespace ConversationLedger.Benchmarks;

/// <summary>
/// The guide's example as a 200-turn conversation against the emulator: a 2,000-token system prompt, a
/// 5,000-token document pasted at turn 3, a 3,000-token reply at turn 4, ~150-token messages otherwise, and
/// three planted facts — the user's name (turn 1), an exact error message (inside the turn-3 document) and an
/// instruction pinned by hand (turn 2). Each policy runs the same script; the emulator's usage (with its prompt
/// cache accounting) is what is billed.
/// </summary>
internal static class TokenEconomyScenario
{
    public const string Name = "Hesham";
    public const string ErrorLine = "Error: ECONNRESET at db/pool.js:88 (pool exhausted after 30000 ms, max 20 clients)";
    public const string Instruction = "always cite ticket TCK-4471 in British English";
    private const string Model = "claude-sonnet-5-5";

    public sealed record Row(string Policy, int Turns, decimal InputCostUsd, decimal SummaryCostUsd, double CacheHitRatio,
        long LargestRequestTokens, int SummaryCalls, bool NameKept, bool ErrorKept, bool InstructionKept)
    {
        public int FactsKept => (NameKept ? 1 : 0) + (ErrorKept ? 1 : 0) + (InstructionKept ? 1 : 0);

        public decimal TotalInputCostUsd => InputCostUsd + SummaryCostUsd;
    }

    public static IReadOnlyList<(string Name, IHistoryPolicy Policy, bool Caching, bool PinByHand)> Variants() =>
    [
        ("keep-all, no caching (the guide's loop)", KeepAllPolicy.Instance, false, false),
        ("keep-all + prompt caching", KeepAllPolicy.Instance, true, true),
        ("guide's sliding window (first exchange + last 18)", SlidingWindowPolicy.Guide(20), true, false),
        ("summarize (window 16, slides every turn)", new SummarizingPolicy(new SlidingWindowPolicy(new SlidingWindowOptions { Messages = 16 })), true, true),
        ("cache-aware default (pins + summary + window 12, step 24)", LedgerOptions.DefaultPolicy, true, true),
    ];

    public static async Task<IReadOnlyList<Row>> RunAsync(int turns, TextWriter progress)
    {
        var rows = new List<Row>();
        foreach (var (name, policy, caching, pinByHand) in Variants())
        {
            rows.Add(await RunOneAsync(name, policy, caching, pinByHand, turns));
            progress.WriteLine($"  {name}: done (input ${rows[^1].InputCostUsd:F4}, summaries ${rows[^1].SummaryCostUsd:F4})");
        }
        return rows;
    }

    /// <summary>One row of the instruction-change comparison: the same script, the prompt changed at one turn.</summary>
    public sealed record ChangeRow(string Policy, string Form, decimal InputCostUsd, double CacheHitRatio, long ReadAfterChange, long WrittenAfterChange);

    /// <summary>
    /// The 200-turn script with the system prompt changed at <paramref name="changeAt"/>: sent as a mid-conversation system
    /// message (Claude Sonnet 5.5 takes them) or as a new top-level prompt (the same model, its table row saying it does not).
    /// </summary>
    public static async Task<IReadOnlyList<ChangeRow>> SwapVsMessageAsync(int turns, int changeAt, TextWriter progress)
    {
        var swapping = new ModelCatalog(ModelCatalog.Default.Models.Select(m => m.Id == Model ? m with { SupportsSystemMessages = false } : m));
        var rows = new List<ChangeRow>();
        foreach (var (name, policy, caching, pinByHand) in Variants().Where(v => (v.Policy == KeepAllPolicy.Instance && v.Caching) || v.Policy == LedgerOptions.DefaultPolicy))
        {
            foreach (var (form, catalog) in new[] { ("top-level system swap", swapping), ("system message", ModelCatalog.Default) })
            {
                var changed = new ChangeProbe(changeAt);
                var row = await RunOneAsync(name, policy, caching, pinByHand, turns, catalog, changed);
                rows.Add(new ChangeRow(name, form, row.TotalInputCostUsd, row.CacheHitRatio, changed.Read, changed.Written));
                progress.WriteLine($"  {name}, {form}: done");
            }
        }
        return rows;
    }

    public static string ChangeTable(IReadOnlyList<ChangeRow> rows)
    {
        var table = new StringBuilder();
        table.AppendLine("| policy | prompt change sent as | billed input $ | cache hit ratio | turn of the change: read from cache | written to cache |");
        table.AppendLine("|---|---|---:|---:|---:|---:|");
        foreach (var r in rows)
        {
            table.AppendLine(CultureInfo.InvariantCulture, $"| {r.Policy} | {r.Form} | {r.InputCostUsd:F4} | {r.CacheHitRatio:P1} | {r.ReadAfterChange:N0} | {r.WrittenAfterChange:N0} |");
        }
        return table.ToString();
    }

    // Where the prompt changes, and what the turn right after it read and wrote in the cache.
    private sealed class ChangeProbe(int turn)
    {
        public int Turn { get; } = turn;

        public long Read { get; set; }

        public long Written { get; set; }
    }

    private static async Task<Row> RunOneAsync(string name, IHistoryPolicy policy, bool caching, bool pinByHand, int turns,
        ModelCatalog? catalog = null, ChangeProbe? change = null)
    {
        await using var emulator = new EmulatorServer();
        var url = await emulator.StartAsync();
        var models = ModelCatalog.Default;
        var adapter = new AnthropicModelClient(new AnthropicModelClientOptions { ApiKey = "bench", BaseUrl = url, MaxRetries = 0 });
        var model = new ExtractiveSummaryModel(adapter, models);
        var ledger = new Ledger(new InMemoryConversationStore(), model, new LedgerOptions
        {
            Model = Model,
            MaxTokens = 4096,
            HistoryPolicy = policy,
            PromptCaching = caching,
        }, new LedgerServices { Models = catalog ?? models });
        var chat = ledger.Open(new ThreadKey("bench", "economy", "guide-200"));
        var prompt0 = ScenarioText.OfTokens(2000, "You are a senior software architect helping one user debug a production service. Be concise.", seed: 1);
        await chat.SetSystemPromptAsync(prompt0);

        decimal inputCost = 0;
        long cacheRead = 0, prompt = 0, largest = 0;
        TurnResult? last = null;
        for (var turn = 1; turn <= turns; turn++)
        {
            if (turn == change?.Turn)
            {
                await chat.SetSystemPromptAsync(prompt0 + "\nFrom now on, answer in British English and cite the ticket number in every reply.");
            }
            emulator.Script.Enqueue(ScriptedReply.Text(ScenarioText.OfTokens(turn == 4 ? 3000 : 150, $"Reply {turn}:", seed: 1000 + turn)));
            last = await chat.SendAsync(UserText(turn));
            var usage = last.Usage;
            if (turn == change?.Turn)
            {
                (change.Read, change.Written) = (usage.CacheReadInputTokens, usage.CacheCreationInputTokens);
            }
            inputCost += models.Cost(Model, usage with { OutputTokens = 0 });
            cacheRead += usage.CacheReadInputTokens;
            prompt += usage.TotalInputTokens;
            largest = Math.Max(largest, usage.TotalInputTokens);
            if (turn == 2 && pinByHand)
            {
                await chat.PinAsync(last.User.Sequence);
            }
        }

        var sent = last!.Request.ToJson();
        return new Row(name, turns, inputCost, model.SummaryCostUsd, prompt == 0 ? 0 : (double)cacheRead / prompt, largest, model.SummaryCalls,
            sent.Contains(Name, StringComparison.Ordinal),
            sent.Contains(ErrorLine.Replace("/", "\\/", StringComparison.Ordinal), StringComparison.Ordinal) || sent.Contains(ErrorLine, StringComparison.Ordinal),
            sent.Contains(Instruction, StringComparison.Ordinal));
    }

    private static string UserText(int turn) => turn switch
    {
        1 => ScenarioText.OfTokens(150, $"My name is {Name} and I build automation systems.", seed: turn),
        2 => ScenarioText.OfTokens(150, $"Important: {Instruction}.", seed: turn),
        3 => ScenarioText.OfTokens(5000, $"Here is the incident log. The first failure reads: {ErrorLine}.", seed: turn),
        _ => ScenarioText.OfTokens(150, $"Question {turn}:", seed: turn),
    };

    public static string Table(IReadOnlyList<Row> rows)
    {
        var naive = rows[0].TotalInputCostUsd;
        var cached = rows[1].TotalInputCostUsd;
        var table = new StringBuilder();
        table.AppendLine("| policy | billed input $ | vs keep-all | vs keep-all + caching | cache hit ratio | largest request (tokens) | summary calls | facts kept (name, error, pinned) |");
        table.AppendLine("|---|---:|---:|---:|---:|---:|---:|---|");
        foreach (var r in rows)
        {
            table.AppendLine(CultureInfo.InvariantCulture, $"| {r.Policy} | {r.TotalInputCostUsd:F4} | {Percent(r.TotalInputCostUsd, naive)} | {Percent(r.TotalInputCostUsd, cached)} | {r.CacheHitRatio:P1} | {r.LargestRequestTokens:N0} | {r.SummaryCalls} | {r.FactsKept}/3 ({Mark(r.NameKept)} {Mark(r.ErrorKept)} {Mark(r.InstructionKept)}) |");
        }
        return table.ToString();
    }

    private static string Percent(decimal value, decimal of) => of == 0 ? "–" : (value / of).ToString("P1", CultureInfo.InvariantCulture);

    private static string Mark(bool kept) => kept ? "yes" : "no";
}
