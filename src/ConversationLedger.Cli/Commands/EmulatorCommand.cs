using System.ComponentModel;
using ConversationLedger.Cli.Hosting;
using ConversationLedger.Emulator;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ConversationLedger.Cli.Commands;

/// <summary><c>ledger emulator [--port N]</c>: the local Messages API until Ctrl+C.</summary>
[Description("Run the local Messages API emulator until Ctrl+C (point ANTHROPIC_BASE_URL at it)")]
public sealed class EmulatorCommand(CliServices services) : AsyncCommand<EmulatorCommand.Settings>
{
    /// <summary>Options of <c>ledger emulator</c>.</summary>
    public sealed class Settings : CommandSettings
    {
        /// <summary>The loopback port (0 picks a free one).</summary>
        [CommandOption("-p|--port <N>")]
        [Description("The loopback port to listen on (default: a free one)")]
        [DefaultValue(0)]
        public int Port { get; set; }

        /// <summary>A fault applied to every request, e.g. <c>ttft:500,tps:5</c> (slow streaming) or <c>529</c>.</summary>
        [CommandOption("--fault <SPEC>")]
        [Description("A fault for every request: 429[[:S]], 529, 500, drop, cut:K, error-event[[:K]], ttft:MS, tps:N (combine with commas)")]
        public string? Fault { get; set; }
    }

    /// <inheritdoc />
    public override ValidationResult Validate(CommandContext context, Settings settings)
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
    public override Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken) =>
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
