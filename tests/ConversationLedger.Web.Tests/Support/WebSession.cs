using System.Text;
using System.Text.Json;
using ConversationLedger.Emulator;

namespace ConversationLedger.Web.Tests.Support;

/// <summary>
/// One person at the page: a browser context of their own, the page, and the API with the same key (to set things up and
/// to check what the page shows against what the service holds). Everything the page logs as an error (a script error, a
/// refused Content-Security-Policy, a failed module) is kept and fails the test at <see cref="DisposeAsync"/>.
/// </summary>
public sealed class WebSession : IAsyncDisposable
{
    private readonly List<string> _errors = [];

    internal WebSession(IBrowserContext context, IPage page, ApiClient api, string key, EmulatorServer emulator)
    {
        Context = context;
        Page = page;
        Api = api;
        Key = key;
        Emulator = emulator;
        page.Console += (_, message) =>
        {
            // A 4xx answer the page expects (a wrong key, another tenant's thread) is logged by the browser as a failed resource.
            if (message.Type == "error" && !message.Text.StartsWith("Failed to load resource", StringComparison.Ordinal))
            {
                _errors.Add($"console: {message.Text}");
            }
        };
        page.PageError += (_, error) => _errors.Add($"page error: {error}");
    }

    public IBrowserContext Context { get; }

    public IPage Page { get; }

    public ApiClient Api { get; }

    public string Key { get; }

    public EmulatorServer Emulator { get; }

    /// <summary>What the page reported as errors so far.</summary>
    public IReadOnlyList<string> Errors => _errors;

    /// <summary>Opens the page and signs in with the session's key.</summary>
    public async Task SignInAsync(string hash = "#/")
    {
        await Page.GotoAsync("/" + hash);
        await Page.GetByLabel("API key").FillAsync(Key);
        await Page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Expect(Page.GetByRole(AriaRole.Heading, new() { Name = "Threads", Exact = true })).ToBeVisibleAsync();
    }

    /// <summary>Opens a thread by its address and waits until its messages are shown.</summary>
    public async Task OpenThreadAsync(string scope, string id)
    {
        await Page.GotoAsync($"/#/t/{Uri.EscapeDataString(scope)}/{Uri.EscapeDataString(id)}");
        await Expect(Page.Locator("#thread-title")).ToHaveTextAsync(id);
        await Expect(Page.Locator("#gauge")).ToHaveAttributeAsync("data-fill", new System.Text.RegularExpressions.Regex("."));
    }

    /// <summary>The messages the page shows (role, text), stored ones only.</summary>
    public async Task<IReadOnlyList<(string Role, string Text)>> ShownMessagesAsync()
    {
        var items = Page.Locator("#messages li.msg:not(.pending):not(.failed)");
        var result = new List<(string, string)>();
        for (var i = 0; i < await items.CountAsync(); i++)
        {
            var item = items.Nth(i);
            result.Add((await item.GetAttributeAsync("data-role") ?? "", (await item.Locator(".msg-body").InnerTextAsync()).Trim()));
        }
        return result;
    }

    /// <summary>Writes into the composer and presses Send.</summary>
    public async Task SendAsync(string text)
    {
        await Page.GetByLabel("Message", new() { Exact = true }).FillAsync(text);
        await Page.GetByRole(AriaRole.Button, new() { Name = "Send" }).ClickAsync();
    }

    /// <summary>Waits until no turn is running (Send is enabled again and nothing streams).</summary>
    public async Task WaitForTurnEndAsync()
    {
        await Expect(Page.Locator("#messages [data-streaming]")).ToHaveCountAsync(0, new() { Timeout = 60_000 });
        await Expect(Page.GetByRole(AriaRole.Button, new() { Name = "Send" })).ToBeEnabledAsync();
    }

    /// <summary>Saves a screenshot of the page in the screenshot folder.</summary>
    public async Task<string> ScreenshotAsync(string name)
    {
        Directory.CreateDirectory(WebFixture.ScreenshotFolder);
        var path = Path.Combine(WebFixture.ScreenshotFolder, name + ".png");
        await Page.ScreenshotAsync(new PageScreenshotOptions { Path = path });
        return path;
    }

    /// <summary>Closes the context; fails when the page logged an error.</summary>
    public async ValueTask DisposeAsync()
    {
        await Context.CloseAsync();
        Api.Dispose();
        Assert.True(_errors.Count == 0, "the page reported errors:\n" + string.Join('\n', _errors));
    }
}

/// <summary>The service's API with one tenant's key.</summary>
public sealed class ApiClient(Uri baseUrl, string key) : IDisposable
{
    private readonly HttpClient _http = new() { BaseAddress = baseUrl, DefaultRequestHeaders = { { "x-api-key", key } }, Timeout = TimeSpan.FromSeconds(60) };

    public async Task<JsonElement> GetAsync(string path)
    {
        using var response = await _http.GetAsync(path);
        return await ReadAsync(response, path);
    }

    public async Task<JsonElement> PostAsync(string path, object body)
    {
        using var content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");
        using var response = await _http.PostAsync(path, content);
        return await ReadAsync(response, path);
    }

    /// <summary>Creates a thread (its path is /v1/threads/SCOPE/ID).</summary>
    public Task<JsonElement> CreateThreadAsync(string scope, string id, string? model = null, string? policy = null, string? system = null) =>
        PostAsync("/v1/threads", new Dictionary<string, string?> { ["scope"] = scope, ["id"] = id, ["model"] = model, ["policy"] = policy, ["system"] = system }
            .Where(p => p.Value is not null).ToDictionary());

    /// <summary>Sends a turn and waits for it to commit.</summary>
    public Task<JsonElement> TurnAsync(string scope, string id, string text) =>
        PostAsync($"{Path(scope, id)}/turns", new { content = text });

    /// <summary>The current conversation's messages.</summary>
    public async Task<JsonElement[]> MessagesAsync(string scope, string id) =>
        [.. (await GetAsync($"{Path(scope, id)}/messages?limit=500")).GetProperty("data").EnumerateArray()];

    public static string Path(string scope, string id) => $"/v1/threads/{Uri.EscapeDataString(scope)}/{Uri.EscapeDataString(id)}";

    private static async Task<JsonElement> ReadAsync(HttpResponseMessage response, string path)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{path}: {(int)response.StatusCode} {text}");
        return text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
    }

    public void Dispose() => _http.Dispose();
}
