using Spectre.Console;

namespace ConversationLedger.Cli.Hosting;

/// <summary>
/// What commands need from the outside world: consoles, input, Ctrl+C, environment variables and the ways to
/// open a store and a model. The process gets <see cref="ForProcess"/>; tests build their own.
/// </summary>
public sealed class CliServices
{
    /// <summary>Where output goes.</summary>
    public required IAnsiConsole Console { get; init; }

    /// <summary>Where error lines go. <value>The default value is <see cref="Console"/>.</value></summary>
    public IAnsiConsole? ErrorConsole { get; init; }

    /// <summary>Where the chat reads lines from when there is no <see cref="Terminal"/>.</summary>
    public required TextReader Input { get; init; }

    /// <summary>
    /// The interactive terminal the chat's line editor works on, or null when input or output is not a terminal (piped:
    /// the chat then reads <see cref="Input"/> line by line). <value>The default value is null.</value>
    /// </summary>
    public Chat.Input.ITerminal? Terminal { get; init; }

    /// <summary>
    /// The pager for long output of reading commands on a terminal, or null for none. <value>The default value is null.</value>
    /// </summary>
    public IPager? Pager { get; init; }

    /// <summary>
    /// Whether standard input is a terminal someone types at (so a command may ask a question).
    /// <value>The default value is false.</value>
    /// </summary>
    public bool InputIsTerminal { get; init; }

    /// <summary>Ctrl+C.</summary>
    public required Interrupts Interrupts { get; init; }

    /// <summary>Reads an environment variable. <value>The default value is the process environment.</value></summary>
    public Func<string, string?> Environment { get; init; } = System.Environment.GetEnvironmentVariable;

    /// <summary>Opens stores. <value>The default value is <see cref="StoreOpener"/>.</value></summary>
    public IStoreOpener Stores { get; init; } = new StoreOpener();

    /// <summary>Opens the model. <value>The default value is <see cref="ModelOpener"/>.</value></summary>
    public IModelOpener Models { get; init; } = new ModelOpener();

    /// <summary>The console for error lines.</summary>
    public IAnsiConsole Errors => ErrorConsole ?? Console;

    /// <summary>The real console, stdin, Ctrl+C and environment.</summary>
    public static CliServices ForProcess()
    {
        var errors = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(System.Console.Error) });
        if (System.Console.IsErrorRedirected)
        {
            // An error is one line: a pipe has no width to wrap at.
            errors.Profile.Width = short.MaxValue;
        }
        var console = AnsiConsole.Console;
        if (System.Console.IsOutputRedirected)
        {
            // A pipe or a file has no width: nothing is wrapped (tables are written as plain text there).
            console.Profile.Width = short.MaxValue;
        }
        return new CliServices
        {
            Console = console,
            ErrorConsole = errors,
            Input = System.Console.In,
            InputIsTerminal = !System.Console.IsInputRedirected,
            Terminal = Chat.Input.UnixTerminal.TryOpen(console.Profile.Out.Writer, System.Environment.GetEnvironmentVariable),
            Interrupts = Interrupts.FromConsole(),
            Pager = System.Console.IsOutputRedirected ? null : new ProcessPager(System.Environment.GetEnvironmentVariable),
        };
    }
}

/// <summary>What a command does with its store.</summary>
public enum StoreAccess
{
    /// <summary>Reads and writes; a SQLite file and its folder are created when missing.</summary>
    ReadWrite,

    /// <summary>
    /// Only reads: nothing is created or written, so a file (or folder) the user may not write can still be read. A
    /// SQLite file that does not exist yet reads as a ledger with no threads.
    /// </summary>
    ReadOnly,
}

/// <summary>Opens the store a <see cref="StoreLocation"/> names.</summary>
public interface IStoreOpener
{
    /// <summary>Opens the store (read-write: creating it if needed). The caller disposes it if it is disposable.</summary>
    /// <exception cref="LedgerException">The store cannot be opened; the message says why.</exception>
    Task<IConversationStore> OpenAsync(StoreLocation location, StoreAccess access, CancellationToken cancellationToken = default);
}

/// <summary>Connects to the model the environment configures.</summary>
public interface IModelOpener
{
    /// <summary>Claude when an API key is configured, otherwise a local emulator.</summary>
    Task<ModelConnection> OpenAsync(Func<string, string?> environment, CancellationToken cancellationToken = default);
}

/// <summary>A model client and whatever must live as long as it (an in-process emulator).</summary>
/// <param name="Client">The client.</param>
/// <param name="Notice">One line to tell the user where replies come from, or null for the real API.</param>
/// <param name="Owned">Disposed with the connection.</param>
public sealed record ModelConnection(IModelClient Client, string? Notice = null, IAsyncDisposable? Owned = null) : IAsyncDisposable
{
    /// <inheritdoc />
    public ValueTask DisposeAsync() => Owned?.DisposeAsync() ?? ValueTask.CompletedTask;
}
