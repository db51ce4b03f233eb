using ConversationLedger.Cli.Tests.Support;

namespace ConversationLedger.Cli.Tests;

/// <summary>What the chat makes of what is typed, pasted or written in an editor, on a terminal and piped.</summary>
public sealed class ChatInputTests : IDisposable
{
    private static readonly ThreadKey DefaultThread = new("local", "default", "default");
    private readonly string _folder = Directory.CreateTempSubdirectory("ledger-chat-input-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private async Task<string[]> StoredTextsAsync(CliHarness cli, ThreadKey? key = null) =>
        (await cli.Store.ReadEntriesAsync(key ?? DefaultThread, 0, 1000)).OfType<MessageEntry>().Where(e => e.Message.Role == Role.User).Select(e => e.Message.Text).ToArray();

    [Fact]
    public async Task A_pasted_multi_line_message_is_one_turn_with_its_indentation_kept()
    {
        var cli = new CliHarness
        {
            Terminal = new ScriptedTerminal().Type("\u001b[200~def f():\r    return 1\r\u001b[201~").Type("\r").Type("\u0004"),
        };

        var result = await cli.RunAsync("", "chat");

        Assert.Equal(0, result.ExitCode);
        var request = Assert.Single(cli.Model.Requests);
        Assert.Equal("def f():\n    return 1", request.Messages[^1].Text);
    }

    [Fact]
    public async Task Editing_keys_typed_at_the_prompt_never_reach_the_ledger()
    {
        var cli = new CliHarness { Terminal = new ScriptedTerminal().Type("xyz\u0015hello wrld\u0017world\u000c\u001b[D\u001b[C\r") };

        await cli.RunAsync("", "chat");

        Assert.Equal(["hello world"], await StoredTextsAsync(cli));
    }

    [Fact]
    public async Task Control_characters_in_piped_input_never_reach_the_ledger()
    {
        var cli = new CliHarness();

        await cli.RunAsync("a\u0015b\u001b[31mc\u0007\tend\n", "chat");

        Assert.Equal(["abc\tend"], await StoredTextsAsync(cli));
    }

    [Fact]
    public async Task A_double_slash_sends_a_message_that_starts_with_a_slash_and_only_slash_exit_ends()
    {
        var cli = new CliHarness();

        var result = await cli.RunAsync("//usr/bin is a folder\nexit\nquit\n/exit\nnever sent\n", "chat");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(["/usr/bin is a folder", "exit", "quit"], await StoredTextsAsync(cli));
    }

    [Fact]
    public async Task A_triple_quote_block_in_piped_input_is_one_message_whatever_it_starts_with()
    {
        var cli = new CliHarness();

        await cli.RunAsync("\"\"\"\n/etc/hosts lists:\n  127.0.0.1 localhost\n\"\"\"\n", "chat");

        Assert.Equal(["/etc/hosts lists:\n  127.0.0.1 localhost"], await StoredTextsAsync(cli));
    }

    [Fact]
    public async Task A_triple_quote_block_cut_off_by_the_end_of_input_is_not_sent()
    {
        var cli = new CliHarness();

        await cli.RunAsync("\"\"\"\nhalf a message\n", "chat");

        Assert.Empty(cli.Model.Requests);
    }

    [Fact]
    public async Task Input_history_is_kept_beside_the_database_per_thread_and_recalled_with_Up()
    {
        var store = "sqlite:" + Path.Combine(_folder, "ledger.db");
        var cli = new CliHarness();
        cli.Terminal = new ScriptedTerminal().Type("hello a\r");
        await cli.RunAsync("", "chat", "-t", "a", "--store", store);
        cli.Terminal = new ScriptedTerminal().Type("hello b\r");
        await cli.RunAsync("", "chat", "-t", "b", "--store", store);

        cli.Terminal = new ScriptedTerminal().Type("\u001b[A again\r");
        await cli.RunAsync("", "chat", "-t", "a", "--store", store);

        Assert.Equal(["hello a", "hello a again"], await StoredTextsAsync(cli, new ThreadKey("local", "default", "a")));
        Assert.True(File.Exists(Path.Combine(_folder, "ledger.db.chat", "local", "default", "a.history.jsonl")));
    }

    [Fact]
    public async Task Slash_edit_sends_what_was_written_in_the_editor()
    {
        var cli = new CliHarness();
        cli.Environment["EDITOR"] = Script("editor.sh", "printf 'from the editor\\n    indented\\n' >> \"$1\"");

        var result = await cli.RunAsync("/edit Draft:\n", "chat");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(["Draft:\nfrom the editor\n    indented"], await StoredTextsAsync(cli));
        Assert.Contains("you (from the editor):", result.Output);
    }

    [Fact]
    public async Task Slash_edit_sends_nothing_when_the_editor_fails_or_leaves_the_message_empty()
    {
        var cli = new CliHarness();
        cli.Environment["EDITOR"] = "false";
        var failed = await cli.RunAsync("/edit\n", "chat");
        cli.Environment["EDITOR"] = "true";

        var empty = await cli.RunAsync("/edit\n", "chat");

        Assert.Empty(cli.Model.Requests);
        Assert.Contains("error: the editor (false) exited with 1; nothing was sent", failed.Output);
        Assert.Contains("the edited message is empty: nothing was sent", empty.Output);
    }

    [Fact]
    public async Task The_policy_and_model_chosen_in_a_chat_apply_when_the_thread_is_resumed()
    {
        var store = "sqlite:" + Path.Combine(_folder, "ledger.db");
        var cli = new CliHarness();
        await cli.RunAsync("/policy window:4\n/model claude-opus-5\n/exit\n", "chat", "--store", store);

        var resumed = await cli.RunAsync("hello\n", "chat", "--store", store);
        var overridden = await cli.RunAsync("again\n", "chat", "--store", store, "--model", "claude-sonnet-5-5");
        var afterOverride = await cli.RunAsync("and again\n", "chat", "--store", store);

        Assert.Contains("as chosen last time in this thread: policy window:4, model claude-opus-5", resumed.Output);
        Assert.Equal(["claude-opus-5", "claude-sonnet-5-5", "claude-sonnet-5-5"], cli.Model.Requests.Select(r => r.Model));
        Assert.Contains("as chosen last time in this thread: policy window:4", afterOverride.Output);
        Assert.DoesNotContain("model claude-opus-5", afterOverride.Output);
    }

    [Fact]
    public async Task Slash_system_with_no_text_clears_the_prompt()
    {
        var cli = new CliHarness();

        var result = await cli.RunAsync("/system Be brief.\n/system\nhi\n", "chat");

        Assert.Contains("system prompt cleared", result.Output);
        Assert.Empty(cli.Model.Requests[0].System);
        Assert.Equal(["Be brief.", ""], (await cli.Store.ReadEntriesAsync(DefaultThread, 0, 100)).OfType<SystemPromptEntry>().Select(e => e.Text));
    }

    [Fact]
    public async Task Slash_policy_reports_the_pins_as_they_are_after_an_unpin()
    {
        var cli = new CliHarness();

        var result = await cli.RunAsync("one\n/policy\n/unpin 1\n/policy\n", "chat");

        var before = result.Output.IndexOf("pinned: #1, #2", StringComparison.Ordinal);
        Assert.True(before >= 0, result.Output);
        Assert.Contains("pinned: none", result.Output[before..]);
    }

    [Fact]
    public async Task Slash_undo_withdraws_the_newest_turn_and_it_stays_in_the_ledger()
    {
        var cli = new CliHarness();

        var result = await cli.RunAsync("one\ntwo\n/undo\nthree\n", "chat");

        Assert.Contains("undone:", result.Output);
        Assert.Equal(["one", CliHarness.Describe(cli.Model.Requests[0]), "three"], cli.Model.Requests[^1].Messages.Select(m => m.Text));
        Assert.Equal(["one", "two", "three"], await StoredTextsAsync(cli));
    }

    [Fact]
    public async Task Slash_retry_regenerates_the_newest_reply_and_show_all_lists_the_withdrawn_turn()
    {
        var cli = new CliHarness();

        await cli.RunAsync("one\ntwo\n/retry\n", "chat");
        var shown = await cli.RunAsync("", "show", "default");
        var all = await cli.RunAsync("", "show", "default", "--all");

        Assert.Equal(3, cli.Model.Requests.Count);
        Assert.Equal(cli.Model.Requests[1].Messages, cli.Model.Requests[2].Messages);
        Assert.Contains("4 messages alternate", shown.Output);
        Assert.Contains("withdraw #6", all.Output);
        Assert.Contains("withdraw #7", all.Output);
    }

    private string Script(string name, string body)
    {
        var path = Path.Combine(_folder, name);
        File.WriteAllText(path, "#!/bin/sh\n" + body + "\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        return path;
    }
}
