using System.ComponentModel;
using ConversationLedger.Cli.Commands;
using ConversationLedger.Cli.Hosting;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ConversationLedger.Cli.Commands.Service;

/// <summary><c>ledger keys revoke ID</c>.</summary>
[Description("Revoke an API key (at once, for every instance)")]
public sealed class KeyRevokeCommand(CliServices services) : KeysCommand<KeyRevokeCommand.Settings>(services)
{
    /// <summary>Options of <c>ledger keys revoke</c>.</summary>
    public sealed class Settings : KeysSettings
    {
        /// <summary>The key's id (key_…).</summary>
        [CommandArgument(0, "<ID>")]
        [Description("The key's id, as keys list shows it (key_…)")]
        public string Id { get; set; } = "";
    }

    /// <inheritdoc />
    public override Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken) =>
        CommandGuard.RunAsync(Services, async () =>
        {
            await using var state = Open(settings);
            if (!await state.RevokeKeyAsync(settings.Id, cancellationToken))
            {
                throw new LedgerNotFoundException($"no active key {settings.Id}");
            }
            Services.Console.WriteLine($"revoked {settings.Id}");
            return 0;
        }, cancellationToken, () => Location);
}
