using System.ComponentModel;
using ConversationLedger.Cli.Hosting;
using ConversationLedger.Emulator;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ConversationLedger.Cli.Commands;

/// <summary><c>ledger emulator [--port N]</c>: the local Messages API until Ctrl+C.</summary>
[Description("Run the local Messages API emulator until Ctrl+C (point ANTHROPIC_BASE_URL at it)")]
public sealed class EmulatorCommand(CliServices services) : AsyncCommand<EmulatorSettings>
{
    /// <inheritdoc />
    public override ValidationResult Validate(CommandContext context, EmulatorSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.Port is < 0 or > 65535)
        {
            return ValidationResult.Error("--port must be 0–65535 (0 picks a free port)");
        }
        return settings.Fault is not null && FaultSpec.TryParse(settings.Fault, out var error) is null
            ? ValidationResult.Error($"--fault: {error}")
            : ValidationResult.Success();
    }

    /// <inheritdoc />
    public override Task<int> ExecuteAsync(CommandContext context, EmulatorSettings settings, CancellationToken cancellationToken) =>
        CommandGuard.RunAsync(services, async () =>
        {
            await using var server = new EmulatorServer();
            var url = await server.StartAsync(settings.Port, cancellationToken);
            if (settings.Fault is { } fault)
            {
                server.Faults.SetRate(fault, 1.0);
            }
            services.Console.WriteLine($"listening on {url}");
            // Ctrl+C or SIGTERM is how this command ends: a clean stop, not a failure.
            await server.WaitForShutdownAsync(cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default);
            services.Console.MarkupLine($"[dim]stopped after {server.Requests.Received} requests[/]");
            return 0;
        }, cancellationToken);
}
