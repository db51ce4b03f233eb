using ConversationLedger.Cli.Tests.Support;

namespace ConversationLedger.Cli.Tests;

/// <summary>
/// What <c>--help</c> and the chat's <c>/help</c> print, compared with the files in Snapshots/ (a change to a
/// command's options or description shows up there, to be reviewed and committed).
/// </summary>
public sealed class HelpTests
{
    // Wide enough that no description wraps differently from one option to the next, narrow enough to read in a diff.
    private const int HelpWidth = 120;

    private static readonly string[] CommandNames =
    [
        "chat", "demo", "threads", "show", "inspect", "usage", "reset", "fork", "export", "import", "delete", "search", "info",
        "emulator", "serve", "keys", "keys create", "keys list", "keys revoke",
    ];

    public static TheoryData<string> Commands() => new(CommandNames);

    [Fact]
    public async Task Ledger_help_matches_its_snapshot()
    {
        var cli = new CliHarness { Width = HelpWidth };

        var result = await cli.RunAsync("", "--help");

        Assert.Equal(0, result.ExitCode);
        Snapshot.Match("help", result.Output);
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public async Task Each_commands_help_matches_its_snapshot(string command)
    {
        var cli = new CliHarness { Width = HelpWidth };

        var result = await cli.RunAsync("", [.. command.Split(' '), "--help"]);

        Assert.Equal(0, result.ExitCode);
        Snapshot.Match("help-" + command.Replace(' ', '-'), result.Output);
    }

    [Fact]
    public async Task Help_lists_every_command()
    {
        var cli = new CliHarness();

        var result = await cli.RunAsync("", "--help");

        foreach (var command in CommandNames.Where(c => !c.Contains(' ', StringComparison.Ordinal)))
        {
            Assert.Contains($"    {command} ", result.Output);
        }
    }

    [Fact]
    public async Task A_command_that_takes_a_policy_lists_every_form_of_the_policy_table()
    {
        var cli = new CliHarness { Width = HelpWidth };

        var result = await cli.RunAsync("", "chat", "--help");

        // Compared without whitespace: the terminal wraps the line where it must.
        static string Bare(string text) => string.Concat(text.Where(c => !char.IsWhiteSpace(c)));
        Assert.Contains("POLICIES:", result.Output, StringComparison.Ordinal);
        Assert.Contains(Bare(HistoryPolicies.Forms), Bare(result.Output), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Chat_help_with_piped_input_matches_its_snapshot()
    {
        var cli = new CliHarness { Width = HelpWidth };

        var result = await cli.RunAsync("/help\n", "chat");

        Snapshot.Match("chat-help-piped", result.Output);
    }

    [Fact]
    public async Task Chat_help_on_a_terminal_lists_the_editors_keys_too_and_matches_its_snapshot()
    {
        var cli = new CliHarness { Width = HelpWidth, Terminal = new ScriptedTerminal().Type("/help\r") };

        var result = await cli.RunAsync("", "chat");

        Snapshot.Match("chat-help-terminal", result.Output);
    }
}
