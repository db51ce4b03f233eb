using Spectre.Console;
using Spectre.Console.Cli;
using Spectre.Console.Cli.Help;
using Spectre.Console.Rendering;

namespace ConversationLedger.Cli.Hosting;

/// <summary>
/// The standard help, with the history policy forms under the options of every command that takes <c>--policy</c>: read
/// from the policy table itself, so a new policy shows here without anyone editing the CLI.
/// </summary>
internal sealed class PolicyFormsHelp(ICommandAppSettings settings) : HelpProvider(settings)
{
    /// <inheritdoc />
    public override IEnumerable<IRenderable> GetFooter(ICommandModel model, ICommandInfo? command)
    {
        foreach (var part in base.GetFooter(model, command))
        {
            yield return part;
        }
        if (command is not null && command.Parameters.OfType<ICommandOption>().Any(o => o.LongNames.Contains("policy")))
        {
            yield return new Markup($"[yellow]POLICIES:[/]{Environment.NewLine}    {Markup.Escape(HistoryPolicies.Forms)}{Environment.NewLine}");
        }
    }
}
