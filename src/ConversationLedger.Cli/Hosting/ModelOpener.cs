using ConversationLedger.Anthropic;

namespace ConversationLedger.Cli.Hosting;

/// <summary>
/// Claude through the official SDK when ANTHROPIC_API_KEY is set (ANTHROPIC_BASE_URL may point elsewhere);
/// otherwise the emulator, started in this process on a free loopback port and reached through the same adapter.
/// </summary>
public sealed class ModelOpener : IModelOpener
{
    /// <inheritdoc />
    public Task<ModelConnection> OpenAsync(Func<string, string?> environment, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(environment);
        cancellationToken.ThrowIfCancellationRequested();
        var key = environment("ANTHROPIC_API_KEY");
        if (!string.IsNullOrWhiteSpace(key))
        {
            var options = new AnthropicModelClientOptions { ApiKey = key, BaseUrl = environment("ANTHROPIC_BASE_URL") };
            return Task.FromResult(new ModelConnection(new AnthropicModelClient(options)));
        }
        // The emulator is not merged yet (branch "emulator"); this becomes EmulatorHost.StartAsync.
        throw new LedgerException("no ANTHROPIC_API_KEY, and the local emulator is not in this build yet: set ANTHROPIC_API_KEY");
    }
}
