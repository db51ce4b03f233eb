using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ConversationLedger.Emulator;

/// <summary>
/// A local server that behaves like the Claude Messages API, bound to 127.0.0.1. Start it in-process with
/// <see cref="StartAsync"/> (port 0 picks a free port) and point a client's base URL at <see cref="BaseUrl"/>;
/// script replies with <see cref="Script"/>, plan faults with <see cref="Faults"/>, read what clients sent in
/// <see cref="Requests"/>. The same controls are served over HTTP under <c>/_emulator</c>. Thread-safe.
/// </summary>
public sealed class EmulatorServer : IAsyncDisposable
{
    private WebApplication? _app;
    private string? _baseUrl;

    /// <summary>Creates a server (not yet listening).</summary>
    public EmulatorServer(EmulatorOptions? options = null)
    {
        Options = options ?? new EmulatorOptions();
        Cache = new PromptCache(Options.TimeProvider);
        Requests = new RequestLog(Options.MaxLoggedRequests, Options.MaxLoggedBytes);
    }

    /// <summary>The options it was created with.</summary>
    public EmulatorOptions Options { get; }

    /// <summary>The newest <c>/v1/messages</c> requests received, in order (as many as the options' limits keep).</summary>
    public RequestLog Requests { get; }

    /// <summary>Scripted replies, consumed one per answered <c>/v1/messages</c> call.</summary>
    public ReplyScript Script { get; } = new();

    /// <summary>Faults planned for the next <c>/v1/messages</c> calls.</summary>
    public FaultSchedule Faults { get; } = new();

    /// <summary>The prompt cache (per API key and model).</summary>
    internal PromptCache Cache { get; }

    /// <summary>The base URL, e.g. <c>http://127.0.0.1:5123</c> (no trailing slash).</summary>
    /// <exception cref="InvalidOperationException">The server has not been started.</exception>
    public string BaseUrl => _baseUrl ?? throw new InvalidOperationException("the emulator has not been started");

    /// <summary>Starts listening on 127.0.0.1 and returns the base URL.</summary>
    /// <param name="port">The port; 0 picks any free port.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <exception cref="InvalidOperationException">The server was already started.</exception>
    public async Task<string> StartAsync(int port = 0, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, IPEndPoint.MaxPort);
        if (_app is not null)
        {
            throw new InvalidOperationException("the emulator is already started");
        }
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ApplicationName = typeof(EmulatorServer).Assembly.GetName().Name,
            Args = [],
        });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, port);
            // The 32 MB limit is the API's, answered with its 413 envelope, so Kestrel's own limit is off.
            kestrel.Limits.MaxRequestBodySize = null;
            kestrel.AddServerHeader = false;
        });
        var app = builder.Build();
        new EmulatorEndpoints(this).Map(app);
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch
        {
            // A port in use or a cancelled start leaves nothing behind.
            await app.DisposeAsync();
            throw;
        }
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        _baseUrl = new Uri(address).GetLeftPart(UriPartial.Authority).Replace("localhost", "127.0.0.1", StringComparison.Ordinal);
        _app = app;
        return _baseUrl;
    }

    /// <summary>Clears scripted replies, faults, the prompt cache and the request log.</summary>
    public void Reset()
    {
        Script.Clear();
        Faults.Clear();
        Cache.Clear();
        Requests.Clear();
    }

    /// <summary>Completes when the server stops (after <see cref="DisposeAsync"/>, or when its host is shut down).</summary>
    public Task WaitForShutdownAsync(CancellationToken cancellationToken = default) =>
        _app?.WaitForShutdownAsync(cancellationToken) ?? Task.CompletedTask;

    /// <summary>Stops listening and releases the server.</summary>
    public async ValueTask DisposeAsync()
    {
        var app = Interlocked.Exchange(ref _app, null);
        if (app is not null)
        {
            await app.StopAsync(CancellationToken.None);
            await app.DisposeAsync();
        }
    }
}
