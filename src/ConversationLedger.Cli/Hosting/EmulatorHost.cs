using ConversationLedger.Anthropic;
using ConversationLedger.Emulator;

namespace ConversationLedger.Cli.Hosting;

/// <summary>Starts the emulator in this process and connects the SDK adapter to it.</summary>
public static class EmulatorHost
{
    /// <summary>
    /// The environment variable with a fault spec applied to every request (e.g. <c>ttft:500,tps:5</c> slows streaming);
    /// for demonstrations and tests of cancellation.
    /// </summary>
    public const string FaultVariable = "LEDGER_EMULATOR_FAULT";

    /// <summary>Starts an emulator on a free loopback port; the connection stops it when disposed.</summary>
    public static async Task<ModelConnection> StartAsync(Func<string, string?> environment, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(environment);
        // Nothing reads this emulator's request log: kept, it would hold every request of a long chat.
        var server = new EmulatorServer(new EmulatorOptions { MaxLoggedRequests = 0 });
        try
        {
            var url = await server.StartAsync(0, cancellationToken);
            if (environment(FaultVariable) is { Length: > 0 } fault)
            {
                server.Faults.SetRate(fault, 1.0);
            }
            // Any key will do for the emulator; the same adapter as for Claude, so this is the production path.
            var client = new AnthropicModelClient(new AnthropicModelClientOptions { ApiKey = "emulator", BaseUrl = url, MaxRetries = 0 });
            return new ModelConnection(client, CliDefaults.EmulatorNotice, server);
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }
}
