using System.Text.Json;
using ConversationLedger.Cli.Tests.Support;

namespace ConversationLedger.Cli.Tests;

/// <summary>--json, --last, --raw, plain tables when piped, and the pager on a terminal.</summary>
public sealed class OutputTests
{
    private static JsonElement Json(CliHarness.Result result)
    {
        Assert.True(result.ExitCode == 0, result.Output);
        using var document = JsonDocument.Parse(result.Output);
        return document.RootElement.Clone();
    }

    [Fact]
    public async Task Threads_json_lists_each_thread_with_its_counts()
    {
        var cli = new CliHarness();
        await cli.RunAsync("one\ntwo\n", "chat", "-t", "a");

        var json = Json(await cli.RunAsync("", "threads", "--json"));

        var thread = Assert.Single(json.GetProperty("threads").EnumerateArray());
        Assert.Equal("a", thread.GetProperty("id").GetString());
        Assert.Equal("default", thread.GetProperty("scope").GetString());
        Assert.Equal("local", thread.GetProperty("tenant").GetString());
        Assert.Equal(4, thread.GetProperty("messages").GetInt64());
        Assert.True(thread.GetProperty("entries").GetInt64() >= 6);
        Assert.True(thread.GetProperty("updated_at").TryGetDateTimeOffset(out _));
        Assert.False(json.GetProperty("more").GetBoolean());
    }

    [Fact]
    public async Task Show_json_carries_each_message_in_the_APIs_shape_with_its_entry_number()
    {
        var cli = new CliHarness();
        await cli.RunAsync("/system be brief\none\n", "chat");

        var json = Json(await cli.RunAsync("", "show", "default", "--json"));

        Assert.Equal("be brief", json.GetProperty("system").GetString());
        Assert.Equal(JsonValueKind.Null, json.GetProperty("summary").ValueKind);
        Assert.Equal(2, json.GetProperty("message_count").GetInt32());
        var first = json.GetProperty("messages")[0];
        Assert.Equal("user", first.GetProperty("message").GetProperty("role").GetString());
        Assert.Equal("one", first.GetProperty("message").GetProperty("content")[0].GetProperty("text").GetString());
        Assert.True(first.GetProperty("sequence").GetInt64() > 0);
        Assert.Equal(JsonValueKind.False, first.GetProperty("edited").ValueKind);
    }

    [Fact]
    public async Task Show_last_shows_only_the_newest_messages_and_says_how_many_came_before()
    {
        var cli = new CliHarness();
        await cli.RunAsync("first question\nsecond question\nthird question\n", "chat");

        var text = await cli.RunAsync("", "show", "default", "--last", "2");
        var json = Json(await cli.RunAsync("", "show", "default", "--last", "2", "--json"));

        Assert.Equal(0, text.ExitCode);
        Assert.Contains("… 4 earlier messages", text.Output);
        Assert.DoesNotContain("second question", text.Output);
        Assert.Contains("third question", text.Output);
        Assert.Equal(2, json.GetProperty("messages").GetArrayLength());
        Assert.Equal(6, json.GetProperty("message_count").GetInt32());
    }

    [Fact]
    public async Task Show_all_with_last_lists_only_the_newest_entries()
    {
        var cli = new CliHarness();
        await cli.RunAsync("one\ntwo\n", "chat");
        var count = (await cli.Store.GetHeadAsync(new ThreadKey("local", "default", "default"))).LastSequence;

        var json = Json(await cli.RunAsync("", "show", "default", "--all", "--last", "3", "--json"));

        Assert.Equal([count - 2, count - 1, count], json.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("sequence").GetInt64()));
    }

    [Fact]
    public async Task Show_last_must_be_a_positive_number()
    {
        var result = await new CliHarness().RunAsync("", "show", "default", "--last", "0");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--last 0: give how many, 1 or more", result.Output);
    }

    [Fact]
    public async Task Usage_json_labels_each_call_and_leaves_inherited_calls_out_of_the_total()
    {
        var cli = new CliHarness();
        await cli.RunAsync("one\n", "chat");
        await cli.RunAsync("", "fork", "default", "--to", "copy");
        await cli.RunAsync("two\n", "chat", "-t", "copy");

        var json = Json(await cli.RunAsync("", "usage", "copy", "--json"));

        var calls = json.GetProperty("calls").EnumerateArray().ToArray();
        Assert.Equal([true, false], calls.Select(c => c.GetProperty("inherited").GetBoolean()));
        Assert.Equal(["turn", "turn"], calls.Select(c => c.GetProperty("kind").GetString()));
        Assert.Equal([1, 2], calls.Select(c => c.GetProperty("turn").GetInt32()));
        Assert.Equal(1, json.GetProperty("total").GetProperty("calls").GetInt32());
        Assert.Equal(calls[1].GetProperty("cost_usd").GetDecimal(), json.GetProperty("total").GetProperty("cost_usd").GetDecimal());
        Assert.Equal(calls[0].GetProperty("cost_usd").GetDecimal(), json.GetProperty("inherited").GetProperty("cost_usd").GetDecimal());
        Assert.Equal("claude-sonnet-5-5", calls[1].GetProperty("model").GetString());
        Assert.True(calls[1].GetProperty("input_tokens").GetInt64() > 0);
    }

    [Fact]
    public async Task Inspect_json_carries_the_parts_the_estimate_and_the_request_body()
    {
        var cli = new CliHarness();
        await cli.RunAsync("one\n", "chat");

        var json = Json(await cli.RunAsync("", "inspect", "default", "-m", "and now?", "--json"));

        Assert.Equal("claude-sonnet-5-5", json.GetProperty("model").GetString());
        Assert.Equal(2, json.GetProperty("window").GetArrayLength());
        Assert.True(json.GetProperty("parts").GetProperty("total").GetInt64() > 0);
        Assert.True(json.GetProperty("context_window").GetInt64() > 0);
        var request = json.GetProperty("request");
        Assert.Equal("and now?", request.GetProperty("messages")[2].GetProperty("content")[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task Inspect_raw_prints_only_the_request_body_on_one_line()
    {
        var cli = new CliHarness();
        await cli.RunAsync("one\n", "chat");

        var result = await cli.RunAsync("", "inspect", "default", "--raw");

        Assert.Equal(0, result.ExitCode);
        Assert.Single(result.Output.TrimEnd('\n').Split('\n'));
        using var body = JsonDocument.Parse(result.Output);
        Assert.Equal("claude-sonnet-5-5", body.RootElement.GetProperty("model").GetString());
        Assert.DoesNotContain("cost estimate", result.Output);
    }

    [Fact]
    public async Task Inspect_with_raw_and_json_together_is_a_bad_command_line()
    {
        var result = await new CliHarness().RunAsync("", "inspect", "default", "--raw", "--json");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("give one of them", result.Output);
    }

    [Fact]
    public async Task Piped_tables_are_plain_text_with_nothing_wrapped_cut_or_boxed()
    {
        var cli = new CliHarness { Width = 40 };
        var question = string.Join(' ', Enumerable.Repeat("word", 60));
        await cli.RunAsync(question + "\n", "chat", "-t", "a-thread-with-a-rather-long-name-indeed");
        cli.OutputIsTerminal = false;

        var threads = await cli.RunAsync("", "threads");
        var entries = await cli.RunAsync("", "show", "a-thread-with-a-rather-long-name-indeed", "--all");

        var lines = threads.Output.TrimEnd('\n').Split('\n');
        Assert.Matches("^thread +scope +entries +messages +tokens +updated$", lines[0]);
        Assert.Matches("^a-thread-with-a-rather-long-name-indeed +default +[0-9]+ +2 +", lines[1]);
        Assert.Equal(2, lines.Length);
        Assert.Contains("user: " + question, entries.Output);
        Assert.DoesNotContain("─", threads.Output + entries.Output);
        Assert.All(entries.Output.Split('\n'), line => Assert.Equal(line.TrimEnd(), line));
    }

    [Fact]
    public async Task Piped_usage_is_the_table_without_charts()
    {
        var cli = new CliHarness();
        await cli.RunAsync("one\ntwo\n", "chat");
        cli.OutputIsTerminal = false;

        var result = await cli.RunAsync("", "usage");

        Assert.Matches(@"(?m)^ *turn +input +cache rd +cache wr +output +cost +context$", result.Output);
        Assert.Matches(@"(?m)^ *all +[0-9]", result.Output);
        Assert.DoesNotContain("prompt tokens per turn", result.Output);
        Assert.DoesNotContain("█", result.Output);
    }

    [Fact]
    public async Task Output_longer_than_the_terminal_goes_through_the_pager()
    {
        var cli = new CliHarness { Pager = new FakePager(), Height = 10 };
        await cli.RunAsync("one\ntwo\nthree\nfour\nfive\nsix\n", "chat");

        var result = await cli.RunAsync("", "show", "default");

        Assert.Equal(0, result.ExitCode);
        var shown = Assert.Single(((FakePager)cli.Pager).Shown);
        Assert.Contains("six", shown);
        Assert.Contains("valid:", shown);
        Assert.DoesNotContain("six", result.Output);
    }

    [Fact]
    public async Task Output_that_fits_the_terminal_or_is_piped_is_not_paged()
    {
        var pager = new FakePager();
        var cli = new CliHarness { Pager = pager, Height = 10 };
        await cli.RunAsync("one\ntwo\nthree\nfour\nfive\nsix\n", "chat");

        var fits = await cli.RunAsync("", "threads");
        cli.OutputIsTerminal = false;
        var piped = await cli.RunAsync("", "show", "default");

        Assert.Empty(pager.Shown);
        Assert.Contains("default", fits.Output);
        Assert.Contains("six", piped.Output);
    }
}
