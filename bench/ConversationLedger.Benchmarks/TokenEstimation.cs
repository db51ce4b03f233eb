using System.Diagnostics;
using System.Globalization;
using System.Text;
using BenchmarkDotNet.Attributes;
using ConversationLedger.Anthropic;
using ConversationLedger.Emulator;
using Microsoft.ML.Tokenizers;

namespace ConversationLedger.Benchmarks;

/// <summary>
/// O200kTokenCounter against the bare Microsoft.ML.Tokenizers call it wraps (the baseline): one ~1,000-token text,
/// the same text as a message (framing added), and a 20-message request. Not sealed: BenchmarkDotNet derives from it.
/// </summary>
[MemoryDiagnoser]
public class TokenCountingBenchmarks
{
    private Tokenizer _tokenizer = null!;
    private string _text = "";
    private Message _message = null!;
    private ModelRequest _request = null!;

    /// <summary>Tokens in <see cref="_text"/>, printed so ns/op converts to tokens/s.</summary>
    public int TextTokens { get; private set; }

    [GlobalSetup]
    public void Setup()
    {
        _tokenizer = TiktokenTokenizer.CreateForEncoding("o200k_base");
        _text = ScenarioText.OfTokens(1000, "Here is the incident log.", seed: 3);
        _message = Message.User(_text);
        _request = new ModelRequest
        {
            Model = "claude-sonnet-5-5",
            MaxTokens = 1024,
            System = [ContentBlock.CreateText(ScenarioText.OfTokens(200, "You are terse.", seed: 4))],
            Messages = [.. Enumerable.Range(0, 20).Select(i => i % 2 == 0
                ? Message.User(ScenarioText.OfTokens(150, $"Question {i}:", seed: i))
                : Message.Assistant(ScenarioText.OfTokens(150, $"Answer {i}:", seed: i)))],
        };
        TextTokens = _tokenizer.CountTokens(_text);
        Console.WriteLine($"// text: {TextTokens} tokens; request: {O200kTokenCounter.Instance.CountTokens(_request)} tokens");
    }

    [Benchmark(Baseline = true, Description = "Tokenizer.CountTokens(1k-token text)")]
    public int BareTokenizer() => _tokenizer.CountTokens(_text);

    [Benchmark(Description = "O200kTokenCounter.CountTokens(message of the same text)")]
    public int CounterMessage() => O200kTokenCounter.Instance.CountTokens(_message);

    [Benchmark(Description = "O200kTokenCounter.CountTokens(20-message request)")]
    public long CounterRequest() => O200kTokenCounter.Instance.CountTokens(_request);
}

/// <summary>
/// Token estimation as a scenario: throughput of the counter over varied text (tokens/s, Stopwatch), and the
/// calibrated estimate each turn made before sending against the input tokens the emulator reported for it.
/// The emulator counts with the same o200k counter, so this checks the framing and the calibration loop
/// (system, pins, summaries, cache breakpoints, per-message overhead all counted alike), not how close o200k is
/// to Claude's real tokenizer — that needs usage from the live API.
/// </summary>
internal static class TokenEstimation
{
    public sealed record Result(double TokensPerSecond, IReadOnlyList<ErrorRow> Errors);

    public sealed record ErrorRow(string Reported, int Turns, double FirstTurnErrorPct, double MeanAbsErrorPct, double LastHalfMeanAbsErrorPct, double MaxLastHalfErrorPct,
        double MeanAbsRawErrorPct, double FinalFactor, int CountTokensChecked, double CountTokensMaxErrorPct);

    public static async Task<Result> RunAsync(int turns, int throughputMs, TextWriter progress)
    {
        // Throughput over varied texts (not one repeated string), single thread.
        var texts = Enumerable.Range(0, 200).Select(i => ScenarioText.OfTokens(50 + (i * 37 % 1000), $"Part {i}:", seed: 500 + i)).ToArray();
        long counted = 0;
        var start = Stopwatch.GetTimestamp();
        var elapsed = TimeSpan.Zero;
        for (var i = 0; elapsed.TotalMilliseconds < throughputMs; i++)
        {
            counted += O200kTokenCounter.CountText(texts[i % texts.Length]);
            elapsed = Stopwatch.GetElapsedTime(start);
        }
        var tokensPerSecond = counted / elapsed.TotalSeconds;
        var rows = new List<ErrorRow>
        {
            await ErrorsAsync("emulator's usage as is (same o200k counter)", 1.0, turns),
            // Claude's tokenizer is not o200k; a reporting scale of 1.15 stands in for it to show the calibration converge.
            await ErrorsAsync("emulator's usage × 1.15 (a different tokenizer, simulated)", 1.15, turns),
        };
        progress.WriteLine($"  estimation: {turns} turns done");
        return new Result(tokensPerSecond, rows);
    }

    private static async Task<ErrorRow> ErrorsAsync(string name, double scale, int turns)
    {
        await using var emulator = new EmulatorServer();
        var url = await emulator.StartAsync();
        var adapter = new AnthropicModelClient(new AnthropicModelClientOptions { ApiKey = "bench", BaseUrl = url, MaxRetries = 0 });
        var model = new ScaledUsageModel(adapter, scale);
        var ledger = new Ledger(new InMemoryConversationStore(), model, new LedgerOptions { MaxTokens = 2048 });
        var chat = ledger.Open(new ThreadKey("bench", "estimate", Guid.NewGuid().ToString("N")));
        await chat.SetSystemPromptAsync(ScenarioText.OfTokens(800, "You are a careful reviewer.", seed: 9));
        var errors = new List<double>();
        var rawErrors = new List<double>();
        double countTokensMax = 0;
        var countTokensChecked = 0;
        for (var turn = 1; turn <= turns; turn++)
        {
            emulator.Script.Enqueue(ScriptedReply.Text(ScenarioText.OfTokens(40 + turn * 13 % 400, $"Reply {turn}:", seed: 2000 + turn)));
            var result = await chat.SendAsync(ScenarioText.OfTokens(20 + turn * 71 % 1500, $"Question {turn}:", seed: 3000 + turn));
            var reported = result.Usage.TotalInputTokens;
            errors.Add(Math.Abs(result.Request.EstimatedInputTokens - reported) * 100.0 / reported);
            rawErrors.Add(Math.Abs(result.Request.Parts.Total - reported) * 100.0 / reported);
            if (turn % 5 == 0)
            {
                // The exact count_tokens endpoint for the same request, as the ledger asks for it.
                var exact = await model.CountTokensAsync(result.Request.Request);
                countTokensMax = Math.Max(countTokensMax, Math.Abs(result.Request.Parts.Total - exact) * 100.0 / exact);
                countTokensChecked++;
            }
        }
        var lastHalf = errors.Skip(turns / 2).ToList();
        return new ErrorRow(name, turns, errors[0], errors.Average(), lastHalf.Average(), lastHalf.Max(), rawErrors.Average(),
            ledger.Calibration.FactorFor(ledger.Options.Model), countTokensChecked, countTokensMax);
    }

    /// <summary>Reports every usage figure scaled, as an API with another tokenizer would; count_tokens too.</summary>
    private sealed class ScaledUsageModel(IModelClient inner, double scale) : IModelClient
    {
        private long Scale(long tokens) => (long)Math.Round(tokens * scale);

        public async Task<ModelResponse> SendAsync(ModelRequest request, CancellationToken cancellationToken = default)
        {
            var response = await inner.SendAsync(request, cancellationToken);
            var usage = response.Usage;
            return response with
            {
                Usage = usage with
                {
                    InputTokens = Scale(usage.InputTokens),
                    CacheCreationInputTokens = Scale(usage.CacheCreationInputTokens),
                    CacheReadInputTokens = Scale(usage.CacheReadInputTokens),
                },
            };
        }

        public IAsyncEnumerable<ModelStreamEvent> StreamAsync(ModelRequest request, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException("the estimation scenario does not stream");

        public async Task<long> CountTokensAsync(ModelRequest request, CancellationToken cancellationToken = default) =>
            Scale(await inner.CountTokensAsync(request, cancellationToken));
    }

    public static string Table(Result r)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"o200k counting throughput (one thread, 200 varied texts of 50–1,050 tokens): {r.TokensPerSecond:N0} tokens/s");
        text.AppendLine();
        text.AppendLine("| reported input tokens | turns | calibrated error, turn 1 | mean abs error | mean abs error, 2nd half | max error, 2nd half | uncalibrated mean abs error | learned factor | count_tokens checks | max raw error vs count_tokens |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var e in r.Errors)
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {e.Reported} | {e.Turns} | {e.FirstTurnErrorPct:F2} % | {e.MeanAbsErrorPct:F2} % | {e.LastHalfMeanAbsErrorPct:F2} % | {e.MaxLastHalfErrorPct:F2} % | {e.MeanAbsRawErrorPct:F2} % | {e.FinalFactor:F4} | {e.CountTokensChecked} | {e.CountTokensMaxErrorPct:F2} % |");
        }
        return text.ToString();
    }
}
