using System.ComponentModel;
using ConversationLedger.Cli.Commands;
using ConversationLedger.Cli.Hosting;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ConversationLedger.Cli.Commands.Service;

/// <summary><c>ledger keys list</c>.</summary>
[Description("List API keys (never their secrets)")]
public sealed class KeyListCommand(CliServices services) : KeysCommand<KeyListCommand.Settings>(services)
{
    /// <summary>Options of <c>ledger keys list</c>.</summary>
    public sealed class Settings : KeysSettings
    {
        /// <summary>Only this tenant's keys.</summary>
        [CommandOption("--tenant <TENANT>")]
        [Description("Only this tenant's keys")]
        public string? Tenant { get; set; }
    }

    /// <inheritdoc />
    public override Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken) =>
        CommandGuard.RunAsync(Services, async () =>
        {
            await using var state = Open(settings);
            var keys = await state.ListKeysAsync(settings.Tenant, cancellationToken);
            var table = new Table().AddColumns("id", "tenant", "name", "starts with", "created", "status");
            foreach (var k in keys)
            {
                table.AddRow(k.Id, Markup.Escape(k.Tenant), Markup.Escape(k.Name), k.Prefix + "…", k.CreatedAt.ToString("u", System.Globalization.CultureInfo.InvariantCulture),
                    k.Active ? "active" : "revoked " + k.RevokedAt!.Value.ToString("u", System.Globalization.CultureInfo.InvariantCulture));
            }
            Services.Console.Write(table);
            return 0;
        }, cancellationToken, () => Location);
}
