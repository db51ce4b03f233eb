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
    public sealed record Result(double TokensPerSecond, long TokensCounted, int Turns, double MeanAbsErrorPct, double MaxAbsErrorPct,
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

        await using var emulator = new EmulatorServer();
        var url = await emulator.StartAsync();
        var model = new AnthropicModelClient(new AnthropicModelClientOptions { ApiKey = "bench", BaseUrl = url, MaxRetries = 0 });
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
            var reported = result.Usage.Record.Usage.TotalInputTokens;
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
        progress.WriteLine($"  estimation: {turns} turns done");
        return new Result(tokensPerSecond, counted, turns, errors.Average(), errors.Max(), rawErrors.Average(),
            ledger.Options.Calibration.FactorFor(ledger.Options.Model), countTokensChecked, countTokensMax);
    }

    public static string Table(Result r)
    {
        var text = new StringBuilder();
        text.AppendLine("| o200k tokens/s (1 thread) | turns | calibrated estimate vs emulator usage: mean abs error | max abs error | uncalibrated mean abs error | learned factor | count_tokens checks | max error vs count_tokens |");
        text.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|");
        text.AppendLine(CultureInfo.InvariantCulture,
            $"| {r.TokensPerSecond:N0} | {r.Turns} | {r.MeanAbsErrorPct:F2} % | {r.MaxAbsErrorPct:F2} % | {r.MeanAbsRawErrorPct:F2} % | {r.FinalFactor:F4} | {r.CountTokensChecked} | {r.CountTokensMaxErrorPct:F2} % |");
        return text.ToString();
    }
}
