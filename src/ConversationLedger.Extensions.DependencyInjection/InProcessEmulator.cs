using ConversationLedger.Anthropic;
using ConversationLedger.Emulator;
using Microsoft.Extensions.Hosting;

namespace ConversationLedger.Extensions.DependencyInjection;

/// <summary>An emulator owned by the container, started once (by the host, or by the first call that needs it).</summary>
internal sealed class InProcessEmulator(EmulatorServer server) : IAsyncDisposable
{
    private readonly Lazy<Task<string>> _started = new(() => server.StartAsync());

    public EmulatorServer Server { get; } = server;

    public Task<string> StartAsync(CancellationToken cancellationToken) => _started.Value.WaitAsync(cancellationToken);

    public ValueTask DisposeAsync() => Server.DisposeAsync();
}

/// <summary>Starts the in-process emulator with the host, so its first request does not pay for the start.</summary>
internal sealed class EmulatorHostedService(InProcessEmulator emulator) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => emulator.StartAsync(cancellationToken);

    // The container disposes the emulator; stopping here too would fail the calls still draining.
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>The SDK adapter pointed at the in-process emulator once it listens (its port is only known then).</summary>
internal sealed class EmulatorModelClient(InProcessEmulator emulator) : IModelClient
{
    private AnthropicModelClient? _client;

    public async Task<ModelResponse> SendAsync(ModelRequest request, CancellationToken cancellationToken = default) =>
        await (await ClientAsync(cancellationToken)).SendAsync(request, cancellationToken);

    public async IAsyncEnumerable<ModelStreamEvent> StreamAsync(ModelRequest request,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var client = await ClientAsync(cancellationToken);
        await foreach (var update in client.StreamAsync(request, cancellationToken))
        {
            yield return update;
        }
    }

    public async Task<long> CountTokensAsync(ModelRequest request, CancellationToken cancellationToken = default) =>
        await (await ClientAsync(cancellationToken)).CountTokensAsync(request, cancellationToken);

    private async Task<AnthropicModelClient> ClientAsync(CancellationToken cancellationToken)
    {
        if (_client is { } client)
        {
            return client;
        }
        var url = await emulator.StartAsync(cancellationToken);
        var created = new AnthropicModelClient(new AnthropicModelClientOptions
        {
            ApiKey = emulator.Server.Options.ApiKey ?? "emulator",
            BaseUrl = url,
            MaxRetries = 0,
        });
        return Interlocked.CompareExchange(ref _client, created, null) ?? created;
    }
}
