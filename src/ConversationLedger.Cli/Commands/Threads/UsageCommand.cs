using System.ComponentModel;
using ConversationLedger.Cli.Commands;
using ConversationLedger.Cli.Hosting;
using ConversationLedger.Cli.Rendering;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ConversationLedger.Cli.Commands.Threads;

/// <summary><c>ledger usage [THREAD]</c>.</summary>
[Description("Tokens and cost of every model call (turns, and summaries labelled summary), with bar charts of prompt tokens and of cost")]
public sealed class UsageCommand(CliServices services) : LedgerCommand<UsageCommand.Settings>(services)
{
    /// <summary>Options of <c>ledger usage</c>.</summary>
    public sealed class Settings : LedgerSettings
    {
        /// <summary>The thread id (null: <c>default</c>, unless <see cref="All"/>).</summary>
        [CommandArgument(0, "[THREAD]")]
        [Description("The thread id (default: default)")]
        public string? Thread { get; set; }

        /// <summary>Whether to sum the usage of every thread of the scope.</summary>
        [CommandOption("--all")]
        [Description("Every thread of the scope: a row per thread (or per day with --by day) and the total, each call counted once (what forks copied from their parents is counted where it was paid for)")]
        public bool All { get; set; }

        /// <summary>How to group the calls: <c>day</c>, or null for the default (per call for a thread, per thread with --all).</summary>
        [CommandOption("--by <PERIOD>")]
        [Description("Group the calls: day (by the local date each call was recorded)")]
        public string? By { get; set; }

        /// <summary>Whether to print JSON instead of a table and charts.</summary>
        [CommandOption("--json")]
        [Description("Print every call and the totals as one JSON document (docs/cli.md gives its shape)")]
        public bool Json { get; set; }
    }

    /// <inheritdoc />
    protected override bool Paged => true;

    /// <inheritdoc />
    protected override StoreAccess Access => StoreAccess.ReadOnly;

    /// <inheritdoc />
    protected override ValidationResult ValidateMore(Settings settings) =>
        settings.All && settings.Thread is not null ? ValidationResult.Error($"give a thread ({settings.Thread}) or --all, not both")
        : settings.By is not (null or "day") ? ValidationResult.Error($"--by {settings.By}: say day")
        : settings.Thread is null ? ValidationResult.Success()
        : CheckId(settings.Thread, "thread") ?? ValidationResult.Success();

    /// <inheritdoc />
    protected override async Task<int> RunAsync(Settings settings, CancellationToken cancellationToken)
    {
        await using var session = await OpenAsync(settings, withModel: false, cancellationToken);
        var reports = new List<ThreadUsage>();
        if (settings.All)
        {
            await foreach (var head in session.Store.ListAllThreadsAsync(session.Tenant, session.Scope, cancellationToken))
            {
                reports.Add(await ThreadUsage.ReadAsync(session.Store, head.Key, cancellationToken));
            }
        }
        else
        {
            var thread = settings.Thread ?? CliDefaults.Thread;
            await session.RequireThreadAsync(thread, cancellationToken);
            reports.Add(await ThreadUsage.ReadAsync(session.Store, session.Key(thread), cancellationToken));
        }
        var byDay = settings.By == "day";
        if (settings.Json)
        {
            if (settings.All || byDay)
            {
                JsonViews.WriteUsageSummary(Console, session.Scope, reports, byDay);
            }
            else
            {
                JsonViews.WriteUsage(Console, reports[0], session.Ledger.Models);
            }
        }
        else if (settings.All || byDay)
        {
            UsageViews.WriteUsageSummary(Console, session.Scope, reports, byDay);
        }
        else
        {
            UsageViews.WriteUsage(Console, reports[0], session.Ledger.Models);
        }
        return 0;
    }
}
