using System.ComponentModel;
using ConversationLedger.Cli.Commands;
using ConversationLedger.Cli.Hosting;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ConversationLedger.Cli.Commands.Threads;

/// <summary><c>ledger fork THREAD [--at N]</c>.</summary>
[Description("Copy a thread (up to entry N) into a new thread")]
public sealed class ForkCommand(CliServices services) : ThreadCommand<ForkCommand.Settings>(services)
{
    /// <summary>Options of <c>ledger fork</c>.</summary>
    public sealed class Settings : ThreadSettings
    {
        /// <summary>The entry to fork after (default: the newest).</summary>
        [CommandOption("--at <N>")]
        [Description("Fork after entry N (default: the newest)")]
        public string? At { get; set; }

        /// <summary>The entry <see cref="At"/> names, or null when it names none (or is not a number).</summary>
        public long? AtEntry => long.TryParse(At, global::System.Globalization.NumberStyles.None, global::System.Globalization.CultureInfo.InvariantCulture, out var n) && n > 0 ? n : null;

        /// <summary>The new thread's id.</summary>
        [CommandOption("--to <ID>")]
        [Description("The new thread's id (default: THREAD-fork-XXXX)")]
        public string? To { get; set; }
    }

    /// <inheritdoc />
    protected override ValidationResult ValidateMore(Settings settings)
    {
        var baseResult = base.ValidateMore(settings);
        if (!baseResult.Successful)
        {
            return baseResult;
        }
        if (settings.At is not null && settings.AtEntry is null)
        {
            return ValidationResult.Error($"--at {settings.At}: give an entry number, 1 or more (ledger show lists them)");
        }
        return settings.To is null ? ValidationResult.Success() : CheckId(settings.To, "--to thread") ?? ValidationResult.Success();
    }

    /// <inheritdoc />
    protected override async Task<int> RunAsync(Settings settings, CancellationToken cancellationToken)
    {
        await using var session = await OpenAsync(settings, withModel: false, cancellationToken);
        var source = await session.OpenExistingAsync(settings.Thread, cancellationToken);
        var target = session.Key(settings.To ?? Chat.ChatSession.ForkName(settings.Thread));
        try
        {
            await source.ForkAsync(target, settings.AtEntry, cancellationToken);
        }
        catch (ConcurrencyConflictException)
        {
            // The store refuses a fork into a thread that has entries.
            throw new LedgerException($"thread {target.ThreadId} already exists; fork into another id (--to)");
        }
        Console.MarkupLine($"[green]forked[/] into {Markup.Escape(target.ThreadId)}");
        // The new id alone on the last line, for scripts.
        Console.WriteLine(target.ThreadId);
        return 0;
    }
}
