using System.ComponentModel;
using ConversationLedger.Cli.Commands;
using ConversationLedger.Cli.Hosting;
using Spectre.Console;

namespace ConversationLedger.Cli.Commands.Threads;

/// <summary><c>ledger reset THREAD</c>.</summary>
[Description("Start a thread afresh; its earlier entries stay readable in the archive")]
public sealed class ResetCommand(CliServices services) : ThreadCommand<ThreadSettings>(services)
{
    /// <inheritdoc />
    protected override async Task<int> RunAsync(ThreadSettings settings, CancellationToken cancellationToken)
    {
        await using var session = await OpenAsync(settings, withModel: false, cancellationToken);
        await (await session.OpenExistingAsync(settings.Thread, cancellationToken)).ResetAsync("ledger reset", cancellationToken);
        Console.MarkupLine($"[green]reset[/] {Markup.Escape(session.Key(settings.Thread).ToString())}: the next request starts afresh");
        return 0;
    }
}
