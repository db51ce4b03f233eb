using ConversationLedger.Anthropic;

namespace ConversationLedger.Cli.Hosting;

/// <summary>
/// Claude through the official SDK when ANTHROPIC_API_KEY is set (ANTHROPIC_BASE_URL may point elsewhere);
/// otherwise the emulator, started in this process on a free loopback port and reached through the same adapter.
/// </summary>
public sealed class ModelOpener : IModelOpener
{
    /// <inheritdoc />
    public async Task<ModelConnection> OpenAsync(Func<string, string?> environment, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(environment);
        cancellationToken.ThrowIfCancellationRequested();
        var key = environment("ANTHROPIC_API_KEY");
        if (!string.IsNullOrWhiteSpace(key))
        {
            var options = new AnthropicModelClientOptions { ApiKey = key, BaseUrl = environment("ANTHROPIC_BASE_URL") };
            return new ModelConnection(new AnthropicModelClient(options));
        }
        return await EmulatorHost.StartAsync(environment, cancellationToken);
    }
}
