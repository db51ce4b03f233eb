using System.ComponentModel;
using ConversationLedger.Cli.Commands;
using ConversationLedger.Cli.Hosting;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ConversationLedger.Cli.Commands.Service;

/// <summary><c>ledger keys create TENANT</c>.</summary>
[Description("Create an API key for a tenant (the key is shown once)")]
public sealed class KeyCreateCommand(CliServices services) : KeysCommand<KeyCreateCommand.Settings>(services)
{
    /// <summary>Options of <c>ledger keys create</c>.</summary>
    public sealed class Settings : KeysSettings
    {
        /// <summary>The tenant the key acts for.</summary>
        [CommandArgument(0, "<TENANT>")]
        [Description("The tenant the key acts for")]
        public string Tenant { get; set; } = "";

        /// <summary>A name to recognize the key by.</summary>
        [CommandOption("--name <NAME>")]
        [Description("A name to recognize the key by")]
        public string Name { get; set; } = "";
    }

    /// <inheritdoc />
    public override Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken) =>
        CommandGuard.RunAsync(Services, async () =>
        {
            await using var state = Open(settings);
            var (key, secret) = await state.CreateKeyAsync(settings.Tenant, settings.Name, cancellationToken);
            Services.Errors.MarkupLine($"[dim]key {key.Id} for tenant {Markup.Escape(key.Tenant)}; it is shown only now:[/]");
            Services.Console.WriteLine(secret);
            return 0;
        }, cancellationToken, () => Location);
}
