using ConversationLedger.Emulator;
using ConversationLedger.Server.State;

namespace ConversationLedger.Web.Tests.Support;

/// <summary>
/// What every web test needs, started once: the service as its own process on a fresh SQLite file, the emulator it calls
/// (in this process, so tests can slow its replies, script them and inject faults), a model table with a small-window model,
/// two tenants with keys, and Debian's Chromium driven by Playwright. Without Chromium nothing is started and every test
/// skips (fails under CI=true).
/// </summary>
public sealed class WebFixture : IAsyncLifetime
{
    /// <summary>A model with a 16,000-token window: the 80 % warning is a few thousand words away.</summary>
    public const string SmallModel = "claude-test-small";

    /// <summary>A model that thinks by default and shows its thinking (summarized), so thinking streams to the page.</summary>
    public const string ThinkingModel = "claude-test-thinker";

    /// <summary>The model threads get when they name none.</summary>
    public const string DefaultModel = "claude-opus-4-1";

    /// <summary>The rows <c>Server:ModelTable</c> adds to the built-in models.</summary>
    public const string ModelTable = $$"""
        {"models": [
          {"id": "{{SmallModel}}", "contextWindow": 16000, "maxOutput": 1024, "inputPerMTok": 3, "outputPerMTok": 15,
           "minCacheableTokens": 1024, "supportsPrefill": true, "thinkingForms": ["enabled", "disabled"], "tokenFactor": 1.0},
          {"id": "{{ThinkingModel}}", "contextWindow": 200000, "maxOutput": 64000, "inputPerMTok": 3, "outputPerMTok": 15,
           "minCacheableTokens": 1024, "supportsPrefill": false, "thinkingForms": ["adaptive", "disabled"], "thinksByDefault": true,
           "defaultThinkingDisplay": "summarized", "effortLevels": ["low", "medium", "high"], "tokenFactor": 1.0}
        ]}
        """;

    private string? _folder;
    private IPlaywright? _playwright;

    /// <summary>Why the tests cannot run here (no Chromium), or null.</summary>
    public string? Unavailable { get; private set; }

    /// <summary>The emulator the service calls.</summary>
    public EmulatorServer Emulator { get; private set; } = null!;

    /// <summary>The service.</summary>
    public ServerProcess Server { get; private set; } = null!;

    /// <summary>The browser.</summary>
    public IBrowser Browser { get; private set; } = null!;

    /// <summary>Tenant acme's key.</summary>
    public string AcmeKey { get; private set; } = "";

    /// <summary>Tenant globex's key.</summary>
    public string GlobexKey { get; private set; } = "";

    /// <summary>Where screenshots go (kept out of git).</summary>
    public static string ScreenshotFolder { get; } = Environment.GetEnvironmentVariable("LEDGER_WEB_SCREENSHOTS") is { Length: > 0 } folder
        ? folder
        : Path.Combine(RepositoryRoot(), "tests", "ConversationLedger.Web.Tests", "screenshots");

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        if (Chromium.Problem() is { } problem)
        {
            Unavailable = problem;
            return;
        }
        _folder = Directory.CreateTempSubdirectory("ledger-web-").FullName;
        var table = Path.Combine(_folder, "models.json");
        await File.WriteAllTextAsync(table, ModelTable);
        using (var file = File.OpenRead(table))
        {
            var extra = ModelCatalog.Load(file).Models;
            Emulator = new EmulatorServer(new EmulatorOptions { Models = new ModelCatalog(ModelCatalog.Default.Models.Concat(extra)) });
        }
        await Emulator.StartAsync();
        var database = Path.Combine(_folder, "ledger.db");
        await using (var state = ServiceState.Sqlite(database))
        {
            await state.EnsureSchemaAsync();
            AcmeKey = (await state.CreateKeyAsync("acme", "web tests")).Secret;
            GlobexKey = (await state.CreateKeyAsync("globex", "web tests")).Secret;
        }
        Server = await ServerProcess.StartAsync(new Dictionary<string, string>
        {
            ["Server:Store"] = "sqlite:" + database,
            ["Server:ModelApi"] = "emulator:" + Emulator.BaseUrl,
            ["Server:ModelTable"] = table,
            ["ConversationLedger:Model"] = DefaultModel,
            // A failed call is shown at once, not after the SDK's retries.
            ["Anthropic:MaxRetries"] = "0",
        });
        // Generous for a machine whose two cores run other test projects at the same time.
        SetDefaultExpectTimeout(15_000);
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium.Path,
            Headless = true,
            Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
    }

    /// <summary>Skips the test when Chromium is missing (fails it under CI=true).</summary>
    public void Require()
    {
        if (Unavailable is null)
        {
            return;
        }
        if (Chromium.InCi)
        {
            throw new InvalidOperationException($"{Unavailable}; CI=true, so this is a failure, not a skip");
        }
        Skip.If(true, Unavailable);
    }

    /// <summary>
    /// A fresh browser context (its own session storage) at the given viewport, and an API client with <paramref name="key"/>,
    /// on the shared service or on <paramref name="server"/>.
    /// </summary>
    public async Task<WebSession> OpenAsync(string key, int width = 1280, int height = 860, ColorScheme scheme = ColorScheme.Light, Uri? server = null)
    {
        server ??= Server.Url;
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = server.ToString(),
            ViewportSize = new ViewportSize { Width = width, Height = height },
            ColorScheme = scheme,
            AcceptDownloads = true,
            Locale = "en-US",
            TimezoneId = "UTC",
        });
        context.SetDefaultTimeout(15_000);
        // Each test starts with nothing scripted and no faults planned (a failed test may have left some).
        Emulator.Script.Clear();
        Emulator.Faults.Clear();
        var page = await context.NewPageAsync();
        return new WebSession(context, page, new ApiClient(server, key), key, Emulator);
    }

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        if (Unavailable is not null)
        {
            return;
        }
        await Browser.DisposeAsync();
        _playwright?.Dispose();
        await Server.DisposeAsync();
        await Emulator.DisposeAsync();
        if (_folder is not null)
        {
            Directory.Delete(_folder, recursive: true);
        }
    }

    private static string RepositoryRoot()
    {
        var folder = new DirectoryInfo(AppContext.BaseDirectory);
        while (folder is not null && !File.Exists(Path.Combine(folder.FullName, "ConversationLedger.slnx")))
        {
            folder = folder.Parent;
        }
        return folder?.FullName ?? Directory.GetCurrentDirectory();
    }
}

/// <summary>Debian's Chromium, which Playwright drives (it never downloads a browser of its own here).</summary>
public static class Chromium
{
    /// <summary>The browser: <c>LEDGER_CHROMIUM</c>, else /usr/bin/chromium.</summary>
    public static string Path { get; } = Environment.GetEnvironmentVariable("LEDGER_CHROMIUM") is { Length: > 0 } path ? path : "/usr/bin/chromium";

    /// <summary>Whether CI=true (a missing browser fails instead of skipping).</summary>
    public static bool InCi { get; } = string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>Why the browser cannot be used, or null.</summary>
    public static string? Problem() => File.Exists(Path)
        ? null
        : $"Chromium is not installed at {Path} (apt-get install -y chromium; .ci/run installs it)";
}

/// <summary>All web tests share one service and one browser, one test at a time (the emulator's faults are global).</summary>
[CollectionDefinition(Name)]
public sealed class WebCollection : ICollectionFixture<WebFixture>
{
    /// <summary>The collection's name.</summary>
    public const string Name = "web page";
}
