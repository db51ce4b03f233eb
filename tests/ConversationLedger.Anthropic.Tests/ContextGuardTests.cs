using System.Globalization;
using System.Text;
using ConversationLedger.Emulator;
using Xunit.Abstractions;

namespace ConversationLedger.Anthropic.Tests;

/// <summary>
/// The context guard against the API's own check: random long conversations, generated turn by turn and imported with long
/// messages, sent through the SDK adapter to an emulator that knows the same small-window model and refuses any request over
/// its window as the API does (400 "prompt is too long"). No turn and no summary request may be refused for size, with the
/// default policy and a few others. 2 conversations × 12 turns per policy in CI; LEDGER_LONG_TESTS=1 runs 10 × 40.
/// </summary>
public sealed class ContextGuardTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly bool LongTests = Environment.GetEnvironmentVariable("LEDGER_LONG_TESTS") == "1";
    private static readonly (int Conversations, int Turns) Load = LongTests ? (10, 40) : (2, 12);

    // An 8,000-token window: a few long messages fill it, so every policy has to cut, fit and summarize.
    private static readonly ModelCatalog SmallWindow = new(
    [
        new ModelInfo { Id = "tiny", ContextWindow = 8000, MaxOutput = 1000, InputPerMTok = 3, OutputPerMTok = 15, MinCacheableTokens = 100 },
    ]);

    private static readonly string[] Words = ["ledger", "turn", "window", "summary", "budget", "token", "cache", "policy", "thread", "store",
        "reply", "question", "context", "model", "request", "append", "sequence", "lease", "history", "prompt"];

    private readonly EmulatorServer _emulator = new(new EmulatorOptions { Models = SmallWindow, MaxLoggedRequests = 0 });

    public static TheoryData<string> Policies => ["default", "summarize:6/4", "window:2000t/500t", "keep-last-tokens:1200", "truncate:6"];

    [Theory]
    [MemberData(nameof(Policies))]
    public async Task Long_conversations_never_send_a_request_over_the_window(string policy)
    {
        var seed = Environment.GetEnvironmentVariable("LEDGER_FUZZ_SEED") is { } s ? int.Parse(s, CultureInfo.InvariantCulture) : 20261202;
        var random = new Random(seed);
        var model = new AnthropicModelClient(new AnthropicModelClientOptions { ApiKey = "sk-ant-test", BaseUrl = _emulator.BaseUrl, MaxRetries = 0 });
        var store = new InMemoryConversationStore();
        // Summaries ask for at most 400 tokens too: the default (1024) is over tiny's output limit (see the test below).
        var options = new LedgerOptions { Model = "tiny", MaxTokens = 400, Policy = policy };
        var ledger = new Ledger(store, model, options, new LedgerServices { Models = SmallWindow });
        var (turns, summaries, highestFill) = (0, 0, 0.0);

        for (var c = 0; c < Load.Conversations; c++)
        {
            var key = new ThreadKey("guard", policy, $"c{c}");
            if (c % 2 == 1)
            {
                // Every other conversation starts from an imported file of long messages.
                await ThreadTransfer.ImportAsync(store, key, new MemoryStream(Encoding.UTF8.GetBytes(LongFile(random))));
            }
            var chat = ledger.Open(key);
            for (var t = 0; t < Load.Turns; t++)
            {
                TurnResult result;
                try
                {
                    result = await chat.SendAsync(Question(random));
                }
                catch (LedgerException ex)
                {
                    throw new Xunit.Sdk.XunitException($"{policy}, conversation {c}, turn {t} (seed {seed}): {ex.GetType().Name}: {ex.Message}");
                }
                Assert.True(result.SummaryError is null, $"{policy}, conversation {c}, turn {t} (seed {seed}): the summary failed: {result.SummaryError}");
                highestFill = Math.Max(highestFill, result.ContextFill);
                turns++;
            }
            summaries += (await store.ReadEntriesAsync(key, 0, 100_000)).Count(e => e.Kind == EntryKind.Summary);
        }
        output.WriteLine($"{policy}: {Load.Conversations} conversations, {turns} turns and {summaries} summaries, none refused for size; "
            + $"fullest request {highestFill:P0} of the 8,000-token window");
    }

    // A summary request once went out with SummaryMaxTokens as it was, above the model's MaxOutput: on a model whose output limit
    // is under 1024 every due summary was refused (400 "max_tokens: 1024 > 1000") and the turn went on without it.
    [Fact]
    public async Task A_due_summary_on_a_model_with_a_small_output_limit_is_not_refused()
    {
        var model = new AnthropicModelClient(new AnthropicModelClientOptions { ApiKey = "sk-ant-test", BaseUrl = _emulator.BaseUrl, MaxRetries = 0 });
        var ledger = new Ledger(new InMemoryConversationStore(), model,
            new LedgerOptions { Model = "tiny", MaxTokens = 400, Policy = "summarize:2/2" }, new LedgerServices { Models = SmallWindow });
        var chat = ledger.Open(new ThreadKey("guard", "defect", "summary"));

        var results = new List<TurnResult>();
        for (var t = 0; t < 4; t++)
        {
            results.Add(await chat.SendAsync($"question {t}"));
        }

        Assert.All(results, r => Assert.Null(r.SummaryError));
    }

    public async Task InitializeAsync() => await _emulator.StartAsync();

    public async Task DisposeAsync() => await _emulator.DisposeAsync();

    // 10 to about 2,000 tokens of text, asking for a reply of up to 600 words (the emulator pads its reply to that).
    private static string Question(Random random) => Text(random, random.Next(10, 1500)) + $" Answer in {random.Next(5, 600)} words.";

    private static string Text(Random random, int words) =>
        string.Join(' ', Enumerable.Range(0, words).Select(_ => random.Next(8) == 0 ? random.Next(100_000).ToString(CultureInfo.InvariantCulture) : Words[random.Next(Words.Length)]));

    // An API-shaped file of 10 to 30 messages of 300 to 2,500 words each.
    private static string LongFile(Random random)
    {
        var messages = Enumerable.Range(0, 2 * random.Next(5, 16)).Select(i =>
            $$"""{"role":"{{(i % 2 == 0 ? "user" : "assistant")}}","content":"{{Text(random, random.Next(300, 2500))}}"}""");
        return $$"""{"messages":[{{string.Join(',', messages)}}]}""";
    }
}
