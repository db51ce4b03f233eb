using ConversationLedger.Cli.Commands;
using ConversationLedger.Cli.Commands.Service;
using ConversationLedger.Cli.Commands.Threads;
using ConversationLedger.Cli.Commands.Transfer;
using ConversationLedger.Cli.Hosting;
using ConversationLedger.Cli.Rendering;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ConversationLedger.Cli;

/// <summary>The <c>ledger</c> command line: its commands, wired to a set of <see cref="CliServices"/>.</summary>
public static class LedgerApp
{
    /// <summary>Exit code of a bug (an error nobody expected), as in sysexits' EX_SOFTWARE.</summary>
    public const int UnexpectedErrorExitCode = 70;

    /// <summary>The version of <c>ledger</c> (without the commit hash).</summary>
    public static string Version { get; } = typeof(LedgerApp).Assembly
        .GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
        .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    /// <summary>Builds the command app over <paramref name="services"/>.</summary>
    public static CommandApp Create(CliServices services)
    {
        ArgumentNullException.ThrowIfNull(services);
        var registrar = new TypeRegistrar();
        registrar.RegisterInstance(typeof(CliServices), services);
        var app = new CommandApp(registrar);
        app.Configure(config =>
        {
            config.SetApplicationName("ledger");
            config.SetApplicationVersion(Version);
            // An unknown option is a bad command line (exit 2), not something to ignore.
            config.UseStrictParsing();
            config.SetHelpProvider(new PolicyFormsHelp(config.Settings));
            config.ConfigureConsole(services.Console);
            config.CancellationExitCode(CommandGuard.CancelledExitCode);
            config.SetExceptionHandler((exception, _) => Fail(services, exception));
            config.AddCommand<ChatCommand>("chat")
                .WithExample("chat")
                .WithExample("chat", "--thread", "ticket-42", "--system", "@prompt.txt");
            config.AddCommand<DemoCommand>("demo");
            config.AddCommand<ThreadsCommand>("threads");
            config.AddCommand<ShowCommand>("show").WithExample("show", "default");
            config.AddCommand<InspectCommand>("inspect").WithExample("inspect", "default", "--message", "and now?");
            config.AddCommand<UsageCommand>("usage").WithExample("usage", "--all", "--by", "day");
            config.AddCommand<ResetCommand>("reset");
            config.AddCommand<ForkCommand>("fork").WithExample("fork", "default", "--at", "4");
            config.AddCommand<ExportCommand>("export").WithExample("export", "default", "-o", "default.json");
            config.AddCommand<ImportCommand>("import").WithExample("import", "default.json", "--as", "restored");
            config.AddCommand<DeleteCommand>("delete");
            config.AddCommand<SearchCommand>("search").WithExample("search", "invoice");
            config.AddCommand<InfoCommand>("info");
            config.AddCommand<EmulatorCommand>("emulator").WithExample("emulator", "--port", "4010");
            config.AddCommand<ServeCommand>("serve").WithExample("serve", "--urls", "http://127.0.0.1:5080");
            config.AddBranch<KeysSettings>("keys", keys =>
            {
                keys.SetDescription("API keys of the conversation service");
                keys.AddCommand<KeyCreateCommand>("create").WithExample("keys", "create", "acme", "--name", "backend");
                keys.AddCommand<KeyListCommand>("list");
                keys.AddCommand<KeyRevokeCommand>("revoke");
            });
        });
        return app;
    }

    /// <summary>Runs the command line; Ctrl+C cancels through <see cref="CliServices.Interrupts"/>.</summary>
    public static Task<int> RunAsync(string[] args, CliServices services)
    {
        ArgumentNullException.ThrowIfNull(services);
        return Create(services).RunAsync(args, services.Interrupts.Token);
    }

    // Reached for parse errors and for failures outside a command's own handling.
    private static int Fail(CliServices services, Exception exception)
    {
        switch (exception)
        {
            case CommandAppException app:
                services.Errors.MarkupLine($"[red]error:[/] {Markup.Escape(app.Message)}");
                return 2;
            case OperationCanceledException:
                return CommandGuard.CancelledExitCode;
            case var expected when ErrorLine.IsExpected(expected):
                ErrorLine.Write(services.Errors, expected);
                return 1;
            default:
                services.Errors.MarkupLine($"[red]unexpected error ({Markup.Escape(exception.GetType().Name)}):[/] {Markup.Escape(exception.Message)}");
                if (services.Environment("LEDGER_DEBUG") is { Length: > 0 })
                {
                    services.Errors.WriteException(exception);
                }
                return UnexpectedErrorExitCode;
        }
    }
}
