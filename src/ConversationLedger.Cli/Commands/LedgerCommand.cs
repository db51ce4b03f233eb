using ConversationLedger.Cli.Hosting;
using ConversationLedger.Cli.Rendering;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ConversationLedger.Cli.Commands;

/// <summary>
/// The base of the commands that work on a ledger: checks the store, scope and thread options up front, and turns
/// expected failures (<see cref="LedgerException"/>, I/O) into one red line and exit code 1, and Ctrl+C into 130.
/// </summary>
public abstract class LedgerCommand<TSettings>(CliServices services) : AsyncCommand<TSettings>
    where TSettings : LedgerSettings
{
    // The store the command opened: error lines from its driver name it.
    private StoreLocation? _store;
    // Output kept for the pager while a paged command runs on a terminal.
    private PagedOutput? _paged;

    /// <summary>The outside world.</summary>
    protected CliServices Services { get; } = services ?? throw new ArgumentNullException(nameof(services));

    /// <summary>The output console.</summary>
    protected IAnsiConsole Console => _paged?.Console ?? Services.Console;

    /// <summary>
    /// Whether output longer than the terminal goes through the pager (<see cref="CliServices.Pager"/>); never when
    /// output is piped. <value>The default value is false.</value>
    /// </summary>
    protected virtual bool Paged => false;

    /// <inheritdoc />
    public override ValidationResult Validate(CommandContext context, TSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        try
        {
            CliDefaults.Store(settings.Store, Services.Environment);
            CliDefaults.Policy(settings.Policy, Services.Environment);
        }
        catch (FormatException ex)
        {
            return ValidationResult.Error(ex.Message);
        }
        return CheckId(settings.Scope, "scope") ?? ValidateMore(settings);
    }

    /// <summary>
    /// What the command does with the store: a command that only reads says <see cref="StoreAccess.ReadOnly"/>, so it
    /// works on a database the user may only read and never creates one. <value>The default value is read-write.</value>
    /// </summary>
    protected virtual StoreAccess Access => StoreAccess.ReadWrite;

    /// <summary>Checks the options of this command beyond the common ones.</summary>
    protected virtual ValidationResult ValidateMore(TSettings settings) => ValidationResult.Success();

    /// <summary>An error when <paramref name="value"/> cannot be part of a thread key; null when it can.</summary>
    protected static ValidationResult? CheckId(string? value, string what)
    {
        try
        {
            ThreadKey.CheckPart(value!, what);
            return null;
        }
        catch (ArgumentException)
        {
            return ValidationResult.Error($"bad {what} \"{value}\": it must be 1–{ThreadKey.MaxPartLength} characters without control characters");
        }
    }

    /// <inheritdoc />
    public sealed override Task<int> ExecuteAsync(CommandContext context, TSettings settings, CancellationToken cancellationToken) =>
        CommandGuard.RunAsync(Services, () => RunPagedAsync(settings, cancellationToken), cancellationToken, () => _store);

    // Inside the guard, so what a failed command wrote comes before its error line.
    private async Task<int> RunPagedAsync(TSettings settings, CancellationToken cancellationToken)
    {
        _paged = Paged ? PagedOutput.TryStart(Services) : null;
        if (_paged is not { } paged)
        {
            return await RunAsync(settings, cancellationToken);
        }
        var complete = false;
        try
        {
            var exit = await RunAsync(settings, cancellationToken);
            complete = true;
            return exit;
        }
        finally
        {
            _paged = null;
            await paged.FinishAsync(complete);
        }
    }

    /// <summary>Runs the command; expected errors may propagate.</summary>
    protected abstract Task<int> RunAsync(TSettings settings, CancellationToken cancellationToken);

    /// <summary>Opens the store (and the model, if asked), announcing an emulator in one line.</summary>
    protected async Task<LedgerSession> OpenAsync(TSettings settings, bool withModel, CancellationToken cancellationToken)
    {
        _store = CliDefaults.Store(settings.Store, Services.Environment);
        var session = await LedgerSession.OpenAsync(Services, settings, withModel, Access, cancellationToken);
        if (session.ModelNotice is { } notice)
        {
            Console.MarkupLine($"[yellow]{Markup.Escape(notice)}[/]");
        }
        return session;
    }
}
