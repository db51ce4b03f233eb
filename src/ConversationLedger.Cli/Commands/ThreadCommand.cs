using ConversationLedger.Cli.Hosting;
using Spectre.Console;

namespace ConversationLedger.Cli.Commands;

/// <summary>The base of commands on one existing thread: checks the thread id.</summary>
public abstract class ThreadCommand<TSettings>(CliServices services) : LedgerCommand<TSettings>(services)
    where TSettings : ThreadSettings
{
    /// <inheritdoc />
    protected override ValidationResult ValidateMore(TSettings settings) =>
        CheckId(settings?.Thread, "thread") ?? ValidationResult.Success();
}
