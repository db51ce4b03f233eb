using System.ComponentModel;
using ConversationLedger.Cli.Commands;
using ConversationLedger.Cli.Hosting;
using ConversationLedger.Cli.Rendering;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ConversationLedger.Cli.Commands.Threads;

/// <summary><c>ledger threads</c>.</summary>
[Description("List the threads, newest activity first")]
public sealed class ThreadsCommand(CliServices services) : LedgerCommand<ThreadsCommand.Settings>(services)
{
    /// <summary>Options of <c>ledger threads</c>.</summary>
    public sealed class Settings : LedgerSettings
    {
        /// <summary>The most threads to list.</summary>
        [CommandOption("--limit <N>")]
        [Description("The most threads to list")]
        [DefaultValue(50)]
        public int Limit { get; set; } = 50;

        /// <summary>Whether to print JSON instead of a table.</summary>
        [CommandOption("--json")]
        [Description("Print the threads as one JSON document (docs/cli.md gives its shape)")]
        public bool Json { get; set; }
    }

    /// <inheritdoc />
    protected override bool Paged => true;

    /// <inheritdoc />
    protected override StoreAccess Access => StoreAccess.ReadOnly;

    /// <inheritdoc />
    protected override ValidationResult ValidateMore(Settings settings) =>
        settings.Limit is > 0 and <= PageRequest.MaxLimit ? ValidationResult.Success() : ValidationResult.Error($"--limit must be 1–{PageRequest.MaxLimit}");

    /// <inheritdoc />
    protected override async Task<int> RunAsync(Settings settings, CancellationToken cancellationToken)
    {
        await using var session = await OpenAsync(settings, withModel: false, cancellationToken);
        var page = await session.Store.ListThreadsAsync(session.Tenant, settings.Scope, new PageRequest(Limit: settings.Limit), cancellationToken);
        if (settings.Json)
        {
            JsonViews.WriteThreads(Console, page.Threads, more: page.NextCursor is not null);
            return 0;
        }
        ThreadViews.WriteThreads(Console, page.Threads);
        if (page.NextCursor is not null)
        {
            Console.MarkupLine($"[dim]more threads exist; --limit shows more[/]");
        }
        return 0;
    }
}
