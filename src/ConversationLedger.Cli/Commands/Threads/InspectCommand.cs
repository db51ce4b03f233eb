using System.ComponentModel;
using ConversationLedger.Cli.Commands;
using ConversationLedger.Cli.Hosting;
using ConversationLedger.Cli.Rendering;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ConversationLedger.Cli.Commands.Threads;

/// <summary><c>ledger inspect THREAD</c>.</summary>
[Description("Show the next request: its JSON body, tokens per part and a cost estimate")]
public sealed class InspectCommand(CliServices services) : ThreadCommand<InspectCommand.Settings>(services)
{
    /// <summary>Options of <c>ledger inspect</c>.</summary>
    public sealed class Settings : ThreadSettings
    {
        /// <summary>The next user message to preview.</summary>
        [CommandOption("-m|--message <TEXT>")]
        [Description("The next user message to preview the request with")]
        [DefaultValue("(your next message)")]
        public string Message { get; set; } = "(your next message)";

        /// <summary>Whether to print only the request body, exactly as it would be sent (one line).</summary>
        [CommandOption("--raw")]
        [Description("Print only the request body, byte for byte as it would be sent")]
        public bool Raw { get; set; }

        /// <summary>Whether to print the preview as JSON.</summary>
        [CommandOption("--json")]
        [Description("Print the preview (parts, tokens, cost estimate and the body) as one JSON document (docs/cli.md gives its shape)")]
        public bool Json { get; set; }
    }

    /// <inheritdoc />
    protected override bool Paged => true;

    /// <inheritdoc />
    protected override StoreAccess Access => StoreAccess.ReadOnly;

    /// <inheritdoc />
    protected override ValidationResult ValidateMore(Settings settings) =>
        settings.Raw && settings.Json ? ValidationResult.Error("--raw prints the body alone and --json the whole preview: give one of them") : base.ValidateMore(settings);

    /// <inheritdoc />
    protected override async Task<int> RunAsync(Settings settings, CancellationToken cancellationToken)
    {
        await using var session = await OpenAsync(settings, withModel: false, cancellationToken);
        var conversation = await session.OpenExistingAsync(settings.Thread, cancellationToken);
        var prepared = await conversation.PreviewAsync(Message.User(settings.Message), null, cancellationToken);
        if (settings.Json)
        {
            JsonViews.WriteInspect(Console, prepared, session.Ledger, session.Ledger.Policy);
        }
        else
        {
            InspectView.Write(Console, prepared, session.Ledger, session.Ledger.Policy, settings.Message, settings.Raw, cancellationToken);
        }
        return 0;
    }
}
