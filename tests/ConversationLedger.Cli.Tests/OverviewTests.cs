using System.Text.Json;
using ConversationLedger.Cli.Tests.Support;

namespace ConversationLedger.Cli.Tests;

/// <summary>info, usage --all, search, delete's confirmation and the end of a reply cut by SIGTERM.</summary>
public sealed class OverviewTests
{
    [Fact]
    public async Task Info_says_where_the_data_is_and_what_answers_without_ever_showing_the_key()
    {
        var cli = new CliHarness();
        cli.Environment["LEDGER_STORE"] = "sqlite:/tmp/somewhere/ledger.db";
        cli.Environment["ANTHROPIC_API_KEY"] = "sk-ant-secret-value-1234";
        cli.Environment["LEDGER_MODEL"] = "claude-haiku-4-5";

        var result = await cli.RunAsync("", "info", "--policy", "keep-all");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("SQLite /tmp/somewhere/ledger.db (from LEDGER_STORE)", result.Output);
        Assert.Contains("/tmp/somewhere/ledger.db.chat", result.Output);
        Assert.Contains("claude-haiku-4-5 (from LEDGER_MODEL)", result.Output);
        Assert.Contains("keep-all (from --policy)", result.Output);
        Assert.Contains("Claude: ANTHROPIC_API_KEY is set", result.Output);
        Assert.DoesNotContain("secret", result.Output);
        Assert.DoesNotContain("sk-ant", result.Output);
    }

    [Fact]
    public async Task Info_names_the_emulator_when_there_is_no_key_and_a_server_without_its_password()
    {
        var cli = new CliHarness();

        var result = await cli.RunAsync("", "info", "--store", "postgres:Host=db.example;Port=5433;Database=ledger;Username=app;Password=hunter2");

        Assert.Contains("PostgreSQL db.example:5433, database ledger, user app", result.Output);
        Assert.Contains("the local emulator (no ANTHROPIC_API_KEY)", result.Output);
        Assert.DoesNotContain("hunter2", result.Output);
    }

    [Fact]
    public async Task Usage_all_sums_every_thread_and_counts_a_forks_inherited_calls_once()
    {
        var cli = new CliHarness();
        await cli.RunAsync("one\ntwo\n", "chat", "-t", "parent");
        await cli.RunAsync("", "fork", "parent", "--to", "child");
        await cli.RunAsync("three\n", "chat", "-t", "child");
        var costs = new List<decimal>();
        foreach (var thread in new[] { "parent", "child" })
        {
            var entries = await cli.Store.ReadEntriesAsync(new ThreadKey("local", "default", thread), 0, 100);
            costs.AddRange(entries.OfType<UsageEntry>().Where(u => thread == "parent" || u.Sequence > entries.OfType<ForkEntry>().Single().Sequence).Select(u => u.Record.CostUsd));
        }

        var text = await cli.RunAsync("", "usage", "--all");
        using var json = JsonDocument.Parse((await cli.RunAsync("", "usage", "--all", "--json")).Output);

        Assert.Equal(0, text.ExitCode);
        Assert.Equal(3, costs.Count);
        var total = json.RootElement.GetProperty("total");
        Assert.Equal(3, total.GetProperty("calls").GetInt32());
        Assert.Equal(costs.Sum(), total.GetProperty("cost_usd").GetDecimal());
        Assert.Equal(["child", "parent"], json.RootElement.GetProperty("rows").EnumerateArray().Select(r => r.GetProperty("thread").GetString()));
        Assert.Equal([1, 2], json.RootElement.GetProperty("rows").EnumerateArray().Select(r => r.GetProperty("calls").GetInt32()));
        Assert.Contains("all threads", text.Output);
    }

    [Fact]
    public async Task Usage_all_by_day_groups_the_calls_by_the_day_they_were_made()
    {
        var cli = new CliHarness();
        await cli.RunAsync("one\n", "chat", "-t", "a");
        await cli.RunAsync("two\n", "chat", "-t", "b");

        using var json = JsonDocument.Parse((await cli.RunAsync("", "usage", "--all", "--by", "day", "--json")).Output);

        var day = Assert.Single(json.RootElement.GetProperty("rows").EnumerateArray());
        Assert.Equal(DateTimeOffset.Now.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture), day.GetProperty("day").GetString());
        Assert.Equal(2, day.GetProperty("calls").GetInt32());
        Assert.Equal("day", json.RootElement.GetProperty("by").GetString());
    }

    [Fact]
    public async Task Usage_with_a_thread_and_all_is_a_bad_command_line()
    {
        var result = await new CliHarness().RunAsync("", "usage", "a", "--all");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("give a thread (a) or --all, not both", result.Output);
    }

    [Fact]
    public async Task Search_finds_text_in_every_thread_of_the_scope_and_says_where()
    {
        var cli = new CliHarness();
        await cli.RunAsync("the invoice for March\nsomething else\n", "chat", "-t", "billing");
        await cli.RunAsync("where is the INVOICE?\n", "chat", "-t", "support");
        await cli.RunAsync("an invoice elsewhere\n", "chat", "-t", "other", "--scope", "elsewhere");
        cli.OutputIsTerminal = false;

        var result = await cli.RunAsync("", "search", "invoice");
        using var json = JsonDocument.Parse((await cli.RunAsync("", "search", "Invoice", "--json")).Output);

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("billing #1 user: the invoice for March", result.Output);
        Assert.Contains("support #1 user: where is the INVOICE?", result.Output);
        Assert.DoesNotContain("elsewhere", result.Output.Split('\n')[0] + result.Output.Split('\n')[1]);
        Assert.Contains("in 2 threads", result.Output);
        var matches = json.RootElement.GetProperty("matches").EnumerateArray().ToArray();
        // The replies quote the question, so they match too.
        Assert.Equal(["billing", "support"], matches.Select(m => m.GetProperty("thread").GetProperty("id").GetString()).Distinct().Order());
        Assert.All(matches, m => Assert.Equal("message", m.GetProperty("kind").GetString()));
        Assert.Contains(matches, m => m.GetProperty("role").GetString() == "user" && m.GetProperty("snippet").GetString() == "where is the INVOICE?");
    }

    [Fact]
    public async Task Search_stops_at_the_limit_and_says_more_exist()
    {
        var cli = new CliHarness();
        await cli.RunAsync("apple one\napple two\napple three\n", "chat");

        var result = await cli.RunAsync("", "search", "apple", "--limit", "2");

        Assert.Contains("2 matches in 1 thread; more exist (--limit 2 stopped the search)", result.Output);
    }

    [Fact]
    public async Task Delete_without_a_terminal_to_ask_on_needs_yes_and_deletes_nothing()
    {
        var cli = new CliHarness();
        await cli.RunAsync("one\n", "chat");

        var result = await cli.RunAsync("", "delete", "default");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("delete erases thread default for good and standard input is not a terminal to ask on: add --yes to confirm", result.Output);
        Assert.True((await cli.Store.GetHeadAsync(new ThreadKey("local", "default", "default"))).Exists);
    }

    [Theory]
    [InlineData("n\n", false)]
    [InlineData("\n", false)]
    [InlineData("y\n", true)]
    [InlineData("yes\n", true)]
    public async Task Delete_on_a_terminal_asks_first(string answer, bool deleted)
    {
        var cli = new CliHarness();
        await cli.RunAsync("one\n", "chat");
        cli.InputIsTerminal = true;

        var result = await cli.RunAsync(answer, "delete", "default");

        Assert.Contains("delete local/default/default (", result.Output);
        Assert.Contains("It cannot be undone. [y/N]", result.Output);
        Assert.Equal(deleted ? 0 : 1, result.ExitCode);
        Assert.Contains(deleted ? "deleted local/default/default" : "not deleted", result.Output);
        Assert.Equal(!deleted, (await cli.Store.GetHeadAsync(new ThreadKey("local", "default", "default"))).Exists);
    }

    [Fact]
    public async Task Delete_with_yes_does_not_ask_and_takes_the_threads_chat_files_with_it()
    {
        var cli = new CliHarness { InputIsTerminal = true };
        cli.Environment["LEDGER_STORE"] = "sqlite:" + Path.Combine(cli.Environment["XDG_DATA_HOME"], "ledger.db");
        await cli.RunAsync("one\n", "chat", "--policy", "keep-all");
        var files = Chat.ThreadFiles.For(Hosting.StoreLocation.Parse(cli.Environment["LEDGER_STORE"]), name => cli.Environment.GetValueOrDefault(name),
            new ThreadKey("local", "default", "default"));
        Assert.True(File.Exists(files.Settings));

        var result = await cli.RunAsync("", "delete", "default", "--yes");

        Assert.Equal(0, result.ExitCode);
        Assert.DoesNotContain("[y/N]", result.Output);
        Assert.False(File.Exists(files.Settings));
    }

    [Fact]
    public async Task A_reply_cut_by_SIGTERM_ends_its_line_before_anything_else_is_said()
    {
        var cli = new CliHarness();
        cli.Model.HoldStream = true;

        var result = await cli.RunAsync(new StringReader("hello\n"), interrupts =>
            _ = cli.Model.FirstDeltaSent.Task.ContinueWith(_ => interrupts.Terminate(), TaskScheduler.Default), "chat")
            .WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(130, result.ExitCode);
        var lines = result.Output.TrimEnd().Split('\n');
        Assert.Equal("cancelled", lines[^1].Trim());
        Assert.EndsWith("claude> I", lines[^2].TrimEnd());
    }
}
