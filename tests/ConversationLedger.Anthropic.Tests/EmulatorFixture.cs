using ConversationLedger.Emulator;

namespace ConversationLedger.Anthropic.Tests;

/// <summary>One emulator per test class, reset before each test; tests talk to it through the real SDK adapter.</summary>
public sealed class EmulatorFixture : IAsyncLifetime
{
    public const string ApiKey = "sk-ant-test-0123456789-secret";

    public EmulatorServer Emulator { get; } = new(new EmulatorOptions { ApiKey = ApiKey });

    public string Url { get; private set; } = "";

    public AnthropicModelClient Client(int maxRetries = 0, string apiKey = ApiKey) =>
        new(new AnthropicModelClientOptions { ApiKey = apiKey, BaseUrl = Url, MaxRetries = maxRetries, Timeout = TimeSpan.FromSeconds(30) });

    public async Task InitializeAsync() => Url = await Emulator.StartAsync();

    public async Task DisposeAsync() => await Emulator.DisposeAsync();
}
