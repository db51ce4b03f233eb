using ConversationLedger.Cli.Hosting;
using Spectre.Console.Testing;

namespace ConversationLedger.Cli.Tests.Support;

/// <summary>
/// Runs <c>ledger</c> commands in memory: a test console, one in-memory store shared by every run (so runs see each
/// other's threads, as they would with a file), a fake model and an environment of the test's choosing.
/// </summary>
public sealed class CliHarness
{
    public InMemoryConversationStore Store { get; } = new();

    /// <summary>The model: its reply says how many messages it received and the earliest user text, as the emulator's does, so statelessness shows in the output.</summary>
    public FakeModel Model { get; } = new() { Reply = (request, _) => Describe(request), InputTokens = 100, OutputTokens = 12 };

    /// <summary>What <see cref="Model"/> answers to a request.</summary>
    public static string Describe(ModelRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var earliest = request.Messages.First(m => m.Role == Role.User).Text;
        return $"I can see {request.Messages.Count} messages. Earliest user text: \"{earliest}\".";
    }

    /// <summary>
    /// The environment; XDG_DATA_HOME is a folder of the harness's own, so nothing a chat keeps beside the default
    /// store (input history, remembered settings) lands in the real home directory.
    /// </summary>
    public Dictionary<string, string> Environment { get; } = new()
    {
        ["XDG_DATA_HOME"] = Path.Combine(Path.GetTempPath(), "ledger-cli-harness-" + Guid.NewGuid().ToString("N")[..12]),
    };

    /// <summary>A terminal for the chat's line editor (null: the chat reads the input line by line, as when piped).</summary>
    public Chat.Input.ITerminal? Terminal { get; set; }

    /// <summary>Whether the output is a terminal (else a pipe: plain tables, no charts, no pager). Default: a terminal.</summary>
    public bool OutputIsTerminal { get; set; } = true;

    /// <summary>The terminal's width in columns.</summary>
    public int Width { get; set; } = 200;

    /// <summary>The terminal's height in lines.</summary>
    public int Height { get; set; } = 24;

    /// <summary>Whether standard input is a terminal someone types at (default: no, as when piped).</summary>
    public bool InputIsTerminal { get; set; }

    /// <summary>The pager (null: none, as when none is installed).</summary>
    public IPager? Pager { get; set; }

    public List<StoreLocation> OpenedStores { get; } = [];

    /// <summary>Hears every call a command makes to the store, by method name, after the store has answered.</summary>
    public Action<string>? AfterStoreCall { get; set; }

    /// <summary>How each store in <see cref="OpenedStores"/> was opened.</summary>
    public List<StoreAccess> OpenedAccess { get; } = [];

    /// <summary>Runs a command with <paramref name="input"/> as its standard input.</summary>
    public Task<Result> RunAsync(string input, params string[] args) => RunAsync(new StringReader(input), _ => { }, args);

    /// <summary>Runs a command; <paramref name="started"/> gets the interrupts (to press Ctrl+C) while it runs.</summary>
    public async Task<Result> RunAsync(TextReader input, Action<Interrupts> started, params string[] args)
    {
        using var console = new TestConsole().Width(Width);
        console.Profile.Out = new Output(console.Profile.Out, OutputIsTerminal);
        // Set after the output, which brings its own size; a pipe has no width (as CliServices.ForProcess has it).
        console.Profile.Width = OutputIsTerminal ? Width : short.MaxValue;
        console.Profile.Height = Height;
        using var interrupts = new Interrupts();
        var services = new CliServices
        {
            Console = console,
            Input = input,
            Terminal = Terminal,
            InputIsTerminal = InputIsTerminal,
            Interrupts = interrupts,
            Pager = Pager,
            Environment = name => Environment.GetValueOrDefault(name),
            Stores = new Opener(this),
            Models = new ModelOpener(Model),
        };
        started(interrupts);
        var exit = await LedgerApp.RunAsync(args, services);
        return new Result(exit, console.Output);
    }

    public sealed record Result(int ExitCode, string Output);

    /// <summary>The test console's output, saying whether it is a terminal.</summary>
    private sealed class Output(Spectre.Console.IAnsiConsoleOutput inner, bool isTerminal) : Spectre.Console.IAnsiConsoleOutput
    {
        public TextWriter Writer => inner.Writer;

        public bool IsTerminal => isTerminal;

        public int Width => inner.Width;

        public int Height => inner.Height;

        public void SetEncoding(System.Text.Encoding encoding) => inner.SetEncoding(encoding);
    }

    private sealed class Opener(CliHarness harness) : IStoreOpener
    {
        public Task<IConversationStore> OpenAsync(StoreLocation location, StoreAccess access, CancellationToken cancellationToken = default)
        {
            harness.OpenedStores.Add(location);
            harness.OpenedAccess.Add(access);
            return Task.FromResult<IConversationStore>(new HookedStore(harness.Store, name => harness.AfterStoreCall?.Invoke(name)));
        }
    }

    private sealed class ModelOpener(FakeModel model) : IModelOpener
    {
        public Task<ModelConnection> OpenAsync(Func<string, string?> environment, CancellationToken cancellationToken = default) =>
            Task.FromResult(new ModelConnection(model, "fake model"));
    }
}
