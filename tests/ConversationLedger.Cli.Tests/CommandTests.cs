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
    public async Task Reset_starts_the_thread_afresh_and_keeps_its_entries()
    {
        var cli = new CliHarness();
        await cli.RunAsync("one\n", "chat");

        var result = await cli.RunAsync("", "reset", "default");

        Assert.Equal(0, result.ExitCode);
        var head = await cli.Store.GetHeadAsync(new ThreadKey("local", "default", "default"));
        Assert.Equal(head.LastSequence, head.ResetSequence);
        Assert.Equal(2, head.RunningMessages);
    }

    [Fact]
    public async Task Fork_copies_the_thread_up_to_the_entry_given_and_prints_the_new_id_last()
    {
        var cli = new CliHarness();
        await cli.RunAsync("one\ntwo\n", "chat");

        var result = await cli.RunAsync("", "fork", "default", "--to", "copy", "--at", "2");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("copy", result.Output.Trim().Split('\n')[^1]);
        Assert.Equal(2, (await cli.Store.GetHeadAsync(new ThreadKey("local", "default", "copy"))).RunningMessages);
    }

    [Fact]
    public async Task Delete_erases_the_thread_and_a_second_delete_finds_nothing()
    {
        var cli = new CliHarness();
        await cli.RunAsync("one\n", "chat");

        var delete = await cli.RunAsync("", "delete", "default", "--yes");
        var again = await cli.RunAsync("", "delete", "default", "--yes");

        Assert.Equal(0, delete.ExitCode);
        Assert.False((await cli.Store.GetHeadAsync(new ThreadKey("local", "default", "default"))).Exists);
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("does not exist", again.Output);
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
