using System.ComponentModel;
using ConversationLedger.Cli.Commands;
using ConversationLedger.Cli.Hosting;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ConversationLedger.Cli.Commands.Threads;

/// <summary><c>ledger delete THREAD</c>.</summary>
[Description("Erase a thread and all its entries (the one real delete); asks first on a terminal")]
public sealed class DeleteCommand(CliServices services) : ThreadCommand<DeleteCommand.Settings>(services)
{
    /// <summary>Options of <c>ledger delete</c>.</summary>
    public sealed class Settings : ThreadSettings
    {
        /// <summary>Whether to delete without asking.</summary>
        [CommandOption("-y|--yes")]
        [Description("Delete without asking (needed when standard input is not a terminal)")]
        public bool Yes { get; set; }
    }

    /// <inheritdoc />
    protected override ValidationResult ValidateMore(Settings settings)
    {
        var baseResult = base.ValidateMore(settings);
        // Without a terminal nobody can answer: a script must say it means it.
        return baseResult.Successful && !settings.Yes && !Services.InputIsTerminal
            ? ValidationResult.Error($"delete erases thread {settings.Thread} for good and standard input is not a terminal to ask on: add --yes to confirm")
            : baseResult;
    }

    /// <inheritdoc />
    protected override async Task<int> RunAsync(Settings settings, CancellationToken cancellationToken)
    {
        await using var session = await OpenAsync(settings, withModel: false, cancellationToken);
        var key = session.Key(settings.Thread);
        var head = await session.RequireThreadAsync(settings.Thread, cancellationToken);
        if (!settings.Yes)
        {
            Console.Markup($"delete {Markup.Escape(key.ToString())} ({head.LastSequence:N0} entries, {head.RunningMessages:N0} messages, last active "
                + $"{head.UpdatedAt.ToLocalTime():yyyy-MM-dd HH:mm})? It cannot be undone. [[y/N]] ");
            var answer = await Services.Input.ReadLineAsync(cancellationToken).AsTask().WaitAsync(cancellationToken);
            if (answer?.Trim().ToLowerInvariant() is not ("y" or "yes"))
            {
                Console.MarkupLine("[yellow]not deleted[/]");
                return 1;
            }
        }
        if (!await session.Store.DeleteThreadAsync(key, cancellationToken))
        {
            throw new LedgerNotFoundException($"thread {key} does not exist (ledger threads lists them)");
        }
        // What the chat kept beside the ledger (input history holds what was typed) goes with it.
        Chat.ThreadFiles.For(CliDefaults.Store(settings.Store, Services.Environment), Services.Environment, key).Delete();
        Console.MarkupLine($"[green]deleted[/] {Markup.Escape(key.ToString())}");
        return 0;
    }
}
