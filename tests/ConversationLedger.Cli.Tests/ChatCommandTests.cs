using ConversationLedger.Cli.Tests.Support;

namespace ConversationLedger.Cli.Tests;

public sealed class ChatCommandTests
{
    private static readonly ThreadKey DefaultThread = new("local", "default", "default");

    [Fact]
    public async Task Chat_streams_replies_and_commits_each_turn()
    {
        var cli = new CliHarness();

        var result = await cli.RunAsync("hello\nhow are you?\n/exit\n", "chat");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("I can see 1 messages.", result.Output);
        Assert.Contains("I can see 3 messages.", result.Output);
        var head = await cli.Store.GetHeadAsync(DefaultThread);
        Assert.Equal(4, head.RunningMessages);
    }

    [Fact]
    public async Task Chat_shows_thinking_dimly_before_the_reply_and_stores_it_with_its_signature()
    {
        var cli = new CliHarness();
        cli.Model.Thinking = "The user greets me; answer briefly.";

        var result = await cli.RunAsync("hello\n", "chat");

        var thinkingAt = result.Output.IndexOf("(thinking) The user greets me; answer briefly.", StringComparison.Ordinal);
        Assert.True(thinkingAt >= 0, result.Output);
        Assert.True(result.Output.IndexOf("I can see 1 messages.", StringComparison.Ordinal) > thinkingAt);
        var reply = (await cli.Store.ReadEntriesAsync(DefaultThread, 0, 10)).OfType<MessageEntry>().Last().Message;
        Assert.Equal("sig-test", reply.Content[0].Thinking!.Signature);
    }

    [Fact]
    public async Task Chat_prints_a_usage_line_after_each_turn()
    {
        var cli = new CliHarness();

        var result = await cli.RunAsync("hello\n", "chat");

        Assert.Contains("in 100 · out 12", result.Output);
        Assert.Contains("context 0.0% of 1,000,000", result.Output);
    }

    [Fact]
    public async Task Chat_warns_when_the_context_window_is_80_percent_full()
    {
        var cli = new CliHarness();
        cli.Model.InputTokens = 850_000;

        var result = await cli.RunAsync("hello\n", "chat");

        Assert.Contains("warning: the context window is 85% full", result.Output);
    }

    [Fact]
    public async Task Chat_resumes_an_existing_thread_and_sends_its_history()
    {
        var cli = new CliHarness();
        await cli.RunAsync("one\ntwo\nthree\n/quit\n", "chat", "--thread", "t1");

        var result = await cli.RunAsync("four\n", "chat", "--thread", "t1");

        Assert.Contains("resuming local/default/t1: 3 turns", result.Output);
        Assert.Contains("three", result.Output);
        Assert.Equal(7, cli.Model.Requests[^1].Messages.Count);
        Assert.Contains("I can see 7 messages. Earliest user text: \"one\"", result.Output);
    }

    [Fact]
    public async Task Chat_ends_at_the_end_of_input()
    {
        var cli = new CliHarness();

        var result = await cli.RunAsync("", "chat");

        Assert.Equal(0, result.ExitCode);
        Assert.Empty(cli.Model.Requests);
    }

    [Fact]
    public async Task Ctrl_C_during_a_reply_cancels_that_turn_only_and_the_chat_goes_on()
    {
        var cli = new CliHarness();
        cli.Model.HoldStream = true;
        using var input = new BlockingInput();
        input.Add("first");
        var run = cli.RunAsync(input, interrupts =>
        {
            _ = cli.Model.FirstDeltaSent.Task.ContinueWith(_ =>
            {
                interrupts.Raise();
                cli.Model.HoldStream = false;
                input.Add("second");
                input.Add("/exit");
            }, TaskScheduler.Default);
        }, "chat");

        var result = await run.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("cancelled: nothing of this turn was stored", result.Output);
        var view = ConversationView.Project(await cli.Store.ReadWindowAsync(DefaultThread, WindowSpec.All));
        Assert.Equal(["second", CliHarness.Describe(cli.Model.Requests[^1])], view.Messages.Select(m => m.Message.Text));
    }

    [Fact]
    public async Task Ctrl_C_twice_at_the_prompt_ends_the_chat()
    {
        var cli = new CliHarness();
        using var input = new BlockingInput();
        // Two presses back to back, with no pause for the chat to print its hint in between: both count.
        var run = cli.RunAsync(input, interrupts => _ = Task.Run(async () =>
        {
            await input.Waiting.Task;
            interrupts.Raise();
            interrupts.Raise();
        }), "chat");

        var result = await run.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("(Ctrl+C again to quit, or type /exit)", result.Output);
    }

    [Fact]
    public async Task A_system_prompt_is_recorded_and_sent()
    {
        var cli = new CliHarness();

        await cli.RunAsync("hi\n/system Be brief.\nagain\n", "chat", "--system", "You are a senior software architect.");

        Assert.Equal("You are a senior software architect.", cli.Model.Requests[0].System[0].Text);
        // Sonnet 5.5 takes mid-conversation system messages: the first prompt stays on top (and cached), the change follows the question.
        Assert.Equal("You are a senior software architect.", cli.Model.Requests[1].System[0].Text);
        Assert.Equal((Role.System, "Be brief."), (cli.Model.Requests[1].Messages[^1].Role, cli.Model.Requests[1].Messages[^1].Text));
        var entries = await cli.Store.ReadEntriesAsync(DefaultThread, 0, 100);
        Assert.Equal(2, entries.OfType<SystemPromptEntry>().Count());
    }

    [Fact]
    public async Task A_system_prompt_can_come_from_a_file_and_a_missing_file_is_a_clear_error()
    {
        var cli = new CliHarness();
        var file = Path.GetTempFileName();
        await File.WriteAllTextAsync(file, "You are terse.\n");
        try
        {
            var ok = await cli.RunAsync("hi\n/history\n", "chat", "--system", "@" + file);
            var missing = await cli.RunAsync("hi\n", "chat", "--system", "@" + file + ".missing");

            Assert.Equal("You are terse.", cli.Model.Requests[0].System[0].Text);
            Assert.Contains("system You are terse.", ok.Output);
            Assert.NotEqual(0, missing.ExitCode);
            Assert.Contains("no such file", missing.Output);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Slash_reset_starts_afresh_and_keeps_the_archive()
    {
        var cli = new CliHarness();

        var result = await cli.RunAsync("one\n/reset\ntwo\n", "chat");

        Assert.Contains("reset:", result.Output);
        Assert.Single(cli.Model.Requests[^1].Messages);
        var entries = await cli.Store.ReadEntriesAsync(DefaultThread, 0, 100);
        Assert.Equal(4, entries.OfType<MessageEntry>().Count());
    }

    [Fact]
    public async Task Slash_history_shows_the_messages_with_their_entry_numbers()
    {
        var cli = new CliHarness();

        var result = await cli.RunAsync("one\n/history\n", "chat");

        Assert.Contains("you #1", result.Output);
        Assert.Contains("claude #2", result.Output);
    }

    [Fact]
    public async Task Slash_usage_shows_the_calls_and_a_chart_of_prompt_tokens()
    {
        var cli = new CliHarness();

        var result = await cli.RunAsync("one\n/usage\n", "chat");

        Assert.Contains("prompt tokens per turn", result.Output);
        Assert.Contains("cost per turn (USD)", result.Output);
    }

    [Fact]
    public async Task Slash_inspect_shows_the_next_request_body_with_the_text_given()
    {
        var cli = new CliHarness();

        var result = await cli.RunAsync("one\n/inspect and then?\n", "chat");

        Assert.Contains("next user: and then?", result.Output);
        Assert.Contains("\"messages\"", result.Output);
        Assert.Single(cli.Model.Requests); // a preview sends nothing
    }

    [Fact]
    public async Task Slash_threads_marks_the_thread_the_chat_is_in()
    {
        var cli = new CliHarness();

        var result = await cli.RunAsync("one\n/threads\n", "chat");

        Assert.Contains("default (here)", result.Output);
    }

    [Fact]
    public async Task Slash_policy_names_the_policy_in_force_and_the_pins()
    {
        var cli = new CliHarness();

        var result = await cli.RunAsync("one\n/policy\n", "chat");

        Assert.Contains($"policy {HistoryPolicies.Parse("default")} · pinned: #1, #2 · prompt caching:", result.Output);
    }

    [Fact]
    public async Task An_unknown_slash_command_is_one_error_line_and_the_chat_goes_on()
    {
        var cli = new CliHarness();

        var result = await cli.RunAsync("/nonsense\none\n", "chat");

        Assert.Contains("error: unknown command /nonsense; /help lists them", result.Output);
        Assert.Single(cli.Model.Requests);
    }

    [Fact]
    public async Task Slash_pin_pins_a_message_and_a_bad_number_is_one_error_line()
    {
        var cli = new CliHarness();

        var result = await cli.RunAsync("one\n/pin 1\n/pin 99\n/unpin x\n/history\n", "chat");

        Assert.Contains("pinned #1", result.Output);
        Assert.Contains("error: thread local/default/default has no message at entry 99", result.Output);
        Assert.Contains("/unpin takes an entry number", result.Output);
        Assert.Contains("you #1 pinned", result.Output);
    }

    [Fact]
    public async Task Slash_fork_moves_the_chat_to_a_copy()
    {
        var cli = new CliHarness();

        var result = await cli.RunAsync("one\n/fork side\ntwo\n", "chat");

        Assert.Contains("now in local/default/side", result.Output);
        Assert.Equal(2, (await cli.Store.GetHeadAsync(DefaultThread)).RunningMessages);
        Assert.Equal(4, (await cli.Store.GetHeadAsync(new ThreadKey("local", "default", "side"))).RunningMessages);
    }

    [Fact]
    public async Task A_failed_model_call_prints_one_line_with_the_request_id_and_the_chat_goes_on()
    {
        var cli = new CliHarness();
        cli.Model.FailNext = new ModelCallException("Overloaded", 529, "overloaded_error", "req_0123");

        var result = await cli.RunAsync("one\ntwo\n", "chat");

        Assert.Contains("error: model call failed with 529 overloaded_error: Overloaded (request req_0123); nothing was stored", result.Output);
        Assert.DoesNotContain("   at ", result.Output);
        var view = ConversationView.Project(await cli.Store.ReadWindowAsync(DefaultThread, WindowSpec.All));
        Assert.Equal("two", view.Messages[0].Message.Text);
    }
}
