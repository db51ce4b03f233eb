using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Anthropic;
using Anthropic.Models.Messages;

namespace ConversationLedger.Emulator.Tests;

/// <summary>A fresh emulator per test (xunit creates the class per test), plus SDK and raw HTTP clients for it.</summary>
public abstract class EmulatorTestBase : IAsyncLifetime
{
    protected const string Model = "claude-opus-4-1"; // takes prefill and manual thinking, caches from 1,024 tokens
    protected const string Key = "test-key";

    private readonly List<IDisposable> _disposables = [];

    protected EmulatorServer Server { get; private set; } = null!;

    protected string Url { get; private set; } = "";

    protected ManualTimeProvider Clock { get; } = new();

    protected virtual EmulatorOptions CreateOptions() => new() { TimeProvider = Clock };

    public async Task InitializeAsync()
    {
        Server = new EmulatorServer(CreateOptions());
        Url = await Server.StartAsync();
    }

    public async Task DisposeAsync()
    {
        foreach (var d in _disposables)
        {
            d.Dispose();
        }
        await Server.DisposeAsync();
    }

    protected AnthropicClient Sdk(int maxRetries = 0, string apiKey = Key)
    {
        var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        _disposables.Add(http);
        return new AnthropicClient { ApiKey = apiKey, BaseUrl = Url, MaxRetries = maxRetries, HttpClient = http, Timeout = TimeSpan.FromSeconds(20) };
    }

    protected HttpClient Http()
    {
        var http = new HttpClient { BaseAddress = new Uri(Url), Timeout = TimeSpan.FromSeconds(20) };
        _disposables.Add(http);
        return http;
    }

    /// <summary>A raw POST with an optional key (x-api-key) and extra headers.</summary>
    protected async Task<HttpResponseMessage> PostAsync(string path, string body, string? apiKey = Key, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path)
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        if (apiKey is not null)
        {
            request.Headers.Add("x-api-key", apiKey);
        }
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }
        if (!headers.Any(h => h.Name == "anthropic-version"))
        {
            request.Headers.Add("anthropic-version", "2023-06-01"); // as every SDK sends it
        }
        return await Http().SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
    }

    protected static MessageCreateParams Params(string body, params (string Name, string Value)[] headers) =>
        MessageCreateParams.FromRawUnchecked(
            headers.ToDictionary(h => h.Name, h => JsonSerializer.SerializeToElement(h.Value)),
            new Dictionary<string, JsonElement>(),
            JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(body)!);

    protected static MessageCountTokensParams CountParams(string body) =>
        MessageCountTokensParams.FromRawUnchecked(
            new Dictionary<string, JsonElement>(),
            new Dictionary<string, JsonElement>(),
            JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(body)!);

    /// <summary>A create body: the model, max_tokens and the messages JSON, plus any extra top-level members.</summary>
    protected static string Body(string messages, string extra = "", int maxTokens = 200, string model = Model) =>
        $$"""{"model":"{{model}}","max_tokens":{{maxTokens}},"messages":{{messages}}{{(extra.Length > 0 ? "," + extra : "")}}}""";

    protected static string Conversation(params string[] texts) =>
        "[" + string.Join(",", texts.Select((t, i) => $$"""{"role":"{{(i % 2 == 0 ? "user" : "assistant")}}","content":{{JsonSerializer.Serialize(t)}}}""")) + "]";

    /// <summary>The prompt tokens the core library estimates for a body (what the emulator must report).</summary>
    protected static long CoreEstimate(string body)
    {
        var parsed = RequestReader.Read(Encoding.UTF8.GetBytes(body), RequestKind.Messages, null, out var error);
        Assert.Null(error);
        return O200kTokenCounter.Instance.CountTokens(parsed!.Request);
    }

    protected static async Task<JsonElement> JsonAsync(HttpResponseMessage response)
    {
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return document.RootElement.Clone();
    }

    protected static string RequestIdHeader(HttpResponseMessage response) =>
        response.Headers.TryGetValues("request-id", out var values) ? values.Single() : "";

    protected static string Words(int count) => string.Join(" ", Enumerable.Range(0, count).Select(i => $"word{i % 97}"));
}

/// <summary>A clock tests move by hand.</summary>
public sealed class ManualTimeProvider : TimeProvider
{
    private DateTimeOffset _now = new(2026, 11, 28, 8, 0, 0, TimeSpan.Zero);

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;

    public void Set(DateTimeOffset now) => _now = now;
}
