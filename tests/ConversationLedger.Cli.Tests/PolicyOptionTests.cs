using ConversationLedger.Cli.Tests.Support;

namespace ConversationLedger.Cli.Tests;

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
