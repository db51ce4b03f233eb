using ConversationLedger.Cli.Tests.Support;

namespace ConversationLedger.Cli.Tests;

public sealed class CommandTests
{
    [Fact]
    public async Task Demo_shows_the_stateless_run_cannot_see_the_name_and_the_stateful_one_can()
    {
        var cli = new CliHarness();

        var result = await cli.RunAsync("", "demo");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("did the second reply know the name? stateless: no, stateful: yes", result.Output);
        var stateless = cli.Model.Requests[1];
        var stateful = cli.Model.Requests[3];
        Assert.Single(stateless.Messages);
        Assert.Equal(3, stateful.Messages.Count);
    }

    [Fact]
    public async Task Ctrl_C_cancels_a_command_cleanly_with_exit_code_130()
    {
        var cli = new CliHarness();
        cli.Model.HoldStream = true;

        var result = await cli.RunAsync(TextReader.Null, interrupts =>
            _ = cli.Model.FirstDeltaSent.Task.ContinueWith(_ => interrupts.Raise(), TaskScheduler.Default), "demo")
            .WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(130, result.ExitCode);
        Assert.Equal("cancelled", result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1].Trim());
    }

    [Fact]
    public async Task Threads_lists_the_threads_of_the_scope()
    {
        var cli = new CliHarness();
        await cli.RunAsync("hi\n", "chat", "--thread", "a");
        await cli.RunAsync("hi\n", "chat", "--thread", "b", "--scope", "other");

        var result = await cli.RunAsync("", "threads");

        Assert.Contains(" a ", result.Output);
        Assert.DoesNotContain(" b ", result.Output);
    }

    [Fact]
    public async Task Show_prints_the_conversation_and_says_it_is_valid()
    {
        var cli = new CliHarness();
        await cli.RunAsync("hello there\n", "chat");

        var result = await cli.RunAsync("", "show", "default");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("hello there", result.Output);
        Assert.Contains("valid:", result.Output);
    }

    [Fact]
    public async Task Show_of_a_missing_thread_is_one_error_line_and_exit_code_1()
    {
        var cli = new CliHarness();

        var result = await cli.RunAsync("", "show", "nope");

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("error: thread local/default/nope does not exist (ledger threads lists them)", result.Output.Trim());
    }

    [Fact]
    public async Task Inspect_shows_the_next_request_body_tokens_and_cost()
    {
        var cli = new CliHarness();
        await cli.RunAsync("hello there\n", "chat");

        var result = await cli.RunAsync("", "inspect", "default", "--message", "and now?");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("next user: and now?", result.Output);
        Assert.Contains("cost estimate:", result.Output);
        Assert.Contains("\"model\": \"claude-sonnet-5-5\"", result.Output);
        Assert.Contains("\"text\": \"and now?\"", result.Output);
        Assert.Empty(cli.Model.Requests.Skip(1));
    }

    [Fact]
    public async Task Usage_prints_a_row_per_turn_and_charts_of_tokens_and_cost()
    {
        var cli = new CliHarness();
        await cli.RunAsync("one\ntwo\n", "chat");

        var result = await cli.RunAsync("", "usage");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("turn 2", result.Output);
        Assert.Contains("prompt tokens per turn", result.Output);
        Assert.Contains("cost per turn (USD)", result.Output);
        // The cost bars carry each turn's cost as stored in its usage record.
        var entries = await cli.Store.ReadEntriesAsync(new ThreadKey("local", "default", "default"), 0, 100);
        var secondCost = entries.OfType<UsageEntry>().ElementAt(1).Record.CostUsd;
        Assert.Contains(secondCost.ToString("0.000000", System.Globalization.CultureInfo.InvariantCulture), result.Output);
    }

    [Fact]
    public async Task Usage_names_the_calls_that_wrote_summaries_and_numbers_only_the_turns()
    {
        var cli = new CliHarness();
        await cli.RunAsync("one\ntwo\nthree\nfour\nfive\n", "chat", "--policy", "summarize:2");

        var result = await cli.RunAsync("", "usage");

        var entries = await cli.Store.ReadEntriesAsync(new ThreadKey("local", "default", "default"), 0, 100);
        Assert.NotEmpty(entries.OfType<SummaryEntry>());
        Assert.Contains("turn 5", result.Output);
        Assert.DoesNotContain("turn 6", result.Output);
        Assert.Contains("summary", result.Output);
    }

    [Fact]
    public async Task Reset_fork_and_delete_change_the_ledger()
    {
        var cli = new CliHarness();
        await cli.RunAsync("one\n", "chat");

        var fork = await cli.RunAsync("", "fork", "default", "--to", "copy", "--at", "2");
        var reset = await cli.RunAsync("", "reset", "default");
        var delete = await cli.RunAsync("", "delete", "copy", "--yes");
        var again = await cli.RunAsync("", "delete", "copy", "--yes");

        Assert.Equal([0, 0, 0, 1], [fork.ExitCode, reset.ExitCode, delete.ExitCode, again.ExitCode]);
        var head = await cli.Store.GetHeadAsync(new ThreadKey("local", "default", "default"));
        Assert.True(head.ResetSequence > 0);
        Assert.False((await cli.Store.GetHeadAsync(new ThreadKey("local", "default", "copy"))).Exists);
    }

    [Fact]
    public async Task Fork_at_a_question_without_its_answer_is_one_error_line_and_creates_nothing()
    {
        var cli = new CliHarness();
        await cli.RunAsync("one\n", "chat");

        var result = await cli.RunAsync("", "fork", "default", "--to", "copy", "--at", "1");

        Assert.Equal(1, result.ExitCode);
        Assert.Equal(
            "error: entry 1 of thread local/default/default is a user message whose reply comes after it; a fork there could never be continued; fork before it, or at its reply (entry 2) or later",
            result.Output.Trim());
        Assert.False((await cli.Store.GetHeadAsync(new ThreadKey("local", "default", "copy"))).Exists);
    }

    [Theory]
    [InlineData("bogus:x")]
    [InlineData("sqlite:")]
    [InlineData("nothing")]
    public async Task A_bad_store_uri_is_one_clear_error_and_a_nonzero_exit(string uri)
    {
        var cli = new CliHarness();

        var result = await cli.RunAsync("", "threads", "--store", uri);

        Assert.NotEqual(0, result.ExitCode);
        Assert.StartsWith("error: bad store", result.Output.Trim());
        Assert.Empty(cli.OpenedStores);
    }

    [Fact]
    public async Task An_unknown_option_is_a_bad_command_line()
    {
        var cli = new CliHarness();

        var result = await cli.RunAsync("", "threads", "--bogus");

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("error:", result.Output.Trim());
        Assert.Contains("Unknown option 'bogus'", result.Output);
        Assert.Empty(cli.OpenedStores);
    }

    [Fact]
    public async Task LEDGER_STORE_is_used_when_no_option_is_given()
    {
        var cli = new CliHarness();
        cli.Environment["LEDGER_STORE"] = "sqlite:/tmp/x.db";

        await cli.RunAsync("", "threads");

        Assert.Equal(new Hosting.StoreLocation(Hosting.StoreKind.Sqlite, "/tmp/x.db"), Assert.Single(cli.OpenedStores));
    }

    [Fact]
    public async Task LEDGER_MODEL_and_the_model_option_choose_the_model()
    {
        var cli = new CliHarness();
        cli.Environment["LEDGER_MODEL"] = "claude-haiku-5-5";

        await cli.RunAsync("hi\n", "chat");
        await cli.RunAsync("hi\n", "chat", "--model", "claude-opus-5-5");

        Assert.Equal(["claude-haiku-5-5", "claude-opus-5-5"], cli.Model.Requests.Select(r => r.Model));
    }
}

public sealed class PolicyOptionTests
{
    [Fact]
    public async Task Chat_with_a_thinking_budget_asks_for_it_on_a_model_that_takes_budgets_and_keeps_room_for_the_answer()
    {
        var cli = new CliHarness();

        var result = await cli.RunAsync("hello\n", "chat", "--model", "claude-haiku-4-5", "--thinking", "2048");

        Assert.Equal(0, result.ExitCode);
        var request = cli.Model.Requests.Last();
        Assert.Equal(2048, request.Thinking!.Value.GetProperty("budget_tokens").GetInt32());
        Assert.Equal("enabled", request.Thinking!.Value.GetProperty("type").GetString());
        Assert.Equal(1024 + 2048, request.MaxTokens);
    }

    [Fact]
    public async Task A_thinking_budget_on_a_model_that_only_thinks_adaptively_is_refused_at_start_in_the_APIs_words()
    {
        var cli = new CliHarness();

        var result = await cli.RunAsync("hello\n", "chat", "--thinking", "2048"); // claude-sonnet-5-5

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("\"thinking.type.enabled\" is not supported for this model. Use \"thinking.type.adaptive\" and \"output_config.effort\"", result.Output);
        Assert.Empty(cli.Model.Requests);
    }

    [Fact]
    public async Task Chat_with_adaptive_thinking_and_an_effort_sends_them_in_the_models_form()
    {
        var cli = new CliHarness();

        var result = await cli.RunAsync("hello\n", "chat", "--thinking", "adaptive", "--effort", "low", "--thinking-display", "summarized");

        Assert.Equal(0, result.ExitCode);
        var request = cli.Model.Requests.Last();
        Assert.Equal("""{"type":"adaptive","display":"summarized"}""", request.Thinking!.Value.GetRawText());
        Assert.Equal("""{"effort":"low"}""", request.OutputConfig!.Value.GetRawText());
    }

    [Fact]
    public async Task An_effort_a_model_does_not_take_is_refused_at_start_in_the_APIs_words()
    {
        var cli = new CliHarness();

        var result = await cli.RunAsync("hello\n", "chat", "--model", "claude-sonnet-4-6", "--effort", "max");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("output_config.effort: Input should be 'low', 'medium' or 'high'", result.Output);
        Assert.Empty(cli.Model.Requests);
    }

    [Fact]
    public async Task An_unknown_model_fails_at_start_with_the_known_ones_and_sends_nothing()
    {
        var cli = new CliHarness();

        var result = await cli.RunAsync("hello\n", "chat", "--model", "bogus");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("unknown model bogus; known models: ", result.Output);
        Assert.Contains("claude-sonnet-5-5", result.Output);
        Assert.Empty(cli.Model.Requests);
    }

    [Theory]
    [InlineData("guide:1")]
    [InlineData("guide:2")]
    public async Task A_guide_window_too_small_to_hold_a_turn_says_so(string policy)
    {
        var cli = new CliHarness();

        var result = await cli.RunAsync("hello\n", "chat", "--policy", policy);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains($"history policy \"{policy}\": guide:N keeps the first exchange and the newest N − 2 messages, so N must be at least 3", result.Output);
        Assert.DoesNotContain("options (", result.Output);
    }

    [Fact]
    public async Task A_fork_point_that_is_not_a_number_says_what_it_wants()
    {
        var cli = new CliHarness();
        await cli.RunAsync("hello\n", "chat");

        var result = await cli.RunAsync("", "fork", "default", "--at", "abc");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--at abc: give an entry number, 1 or more (ledger show lists them)", result.Output);
    }

    [Fact]
    public async Task A_fork_into_a_thread_that_exists_says_it_exists_and_changes_nothing()
    {
        var cli = new CliHarness();
        await cli.RunAsync("hello\n", "chat");
        await cli.RunAsync("hi\n", "chat", "-t", "copy");
        var before = await cli.Store.ReadEntriesAsync(new ThreadKey("local", "default", "copy"), 0, 100);

        var result = await cli.RunAsync("", "fork", "default", "--to", "copy");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("thread copy already exists; fork into another id (--to)", result.Output);
        Assert.Equal(before.Count, (await cli.Store.ReadEntriesAsync(new ThreadKey("local", "default", "copy"), 0, 100)).Count);
    }

    [Fact]
    public async Task Max_tokens_is_set_at_start_and_changed_in_the_chat_and_the_model_is_switched_by_name()
    {
        var cli = new CliHarness();

        var result = await cli.RunAsync("one\n/max-tokens 500\ntwo\n/model bogus\n/model claude-haiku-4-5\nthree\n", "chat", "--max-tokens", "300");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal([300, 500, 500], cli.Model.Requests.Select(r => r.MaxTokens));
        Assert.Equal(["claude-sonnet-5-5", "claude-sonnet-5-5", "claude-haiku-4-5"], cli.Model.Requests.Select(r => r.Model));
        Assert.Contains("unknown model bogus; known models: ", result.Output);
    }

    [Fact]
    public async Task A_reply_cut_at_max_tokens_says_so()
    {
        var cli = new CliHarness();
        cli.Model.StopReason = "max_tokens";

        var result = await cli.RunAsync("tell me everything\n", "chat");

        Assert.Contains("the reply was cut at max_tokens (1,024); /max-tokens N raises it", result.Output);
    }

    [Fact]
    public async Task Thinking_whose_text_is_omitted_is_still_shown_as_thinking()
    {
        var cli = new CliHarness();
        cli.Model.Thinking = ""; // display omitted: the block arrives empty, with its signature

        var result = await cli.RunAsync("hello\n", "chat");

        var thinking = result.Output.IndexOf("(thinking)", StringComparison.Ordinal);
        Assert.True(thinking >= 0 && thinking < result.Output.IndexOf("I can see 1 messages", StringComparison.Ordinal), result.Output);
    }

    [Fact]
    public async Task The_version_is_one_line()
    {
        var result = await new CliHarness().RunAsync("", "--version");

        Assert.Equal(0, result.ExitCode);
        Assert.Matches(@"^\d+\.\d+\.\d+", result.Output.Trim());
    }

    [Fact]
    public async Task A_thinking_budget_below_the_APIs_minimum_is_one_clear_error()
    {
        var cli = new CliHarness();

        var result = await cli.RunAsync("", "chat", "--thinking", "100");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("the API's smallest thinking budget is 1024 tokens", result.Output);
        Assert.Empty(cli.Model.Requests);
    }

    [Fact]
    public async Task A_bad_policy_name_is_one_clear_error_and_a_nonzero_exit()
    {
        var cli = new CliHarness();

        var result = await cli.RunAsync("", "chat", "--policy", "sliding");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("unknown history policy \"sliding\"", result.Output);
        Assert.DoesNotContain("(Parameter", result.Output);
        Assert.Empty(cli.OpenedStores);
    }

    [Fact]
    public async Task The_policy_option_decides_what_each_request_carries()
    {
        var cli = new CliHarness();

        await cli.RunAsync("one\ntwo\nthree\nfour\n", "chat", "--policy", "truncate:2");

        // The newest two messages, then the new one: the window never grows past the limit.
        Assert.Equal(3, cli.Model.Requests[^1].Messages.Count);
        Assert.Equal("three", cli.Model.Requests[^1].Messages[0].Text);
    }

    [Fact]
    public async Task Slash_policy_switches_the_policy_for_the_rest_of_the_chat()
    {
        var cli = new CliHarness();

        var result = await cli.RunAsync("one\ntwo\n/policy keep-all\nthree\n/policy nonsense\n", "chat", "--policy", "truncate:2");

        Assert.Contains("policy keep-all", result.Output);
        Assert.Equal(5, cli.Model.Requests[^1].Messages.Count);
        Assert.Contains("unknown history policy \"nonsense\"", result.Output);
    }
}
