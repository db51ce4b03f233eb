using ConversationLedger.Cli.Tests.Support;

namespace ConversationLedger.Cli.Tests;

/// <summary>The real executable, as a user runs it: no API key (the emulator answers), a SQLite file, piped input.</summary>
public sealed class ProcessTests : IDisposable
{
    private readonly LedgerProcess _ledger = new();

    public void Dispose() => _ledger.Dispose();

    [Fact]
    public async Task A_resumed_chat_sends_the_earlier_turns_with_the_fourth()
    {
        var first = await _ledger.RunAsync("My name is Hesham.\nI build automation systems.\nI like tea.\n/quit\n", "chat", "--thread", "t1");
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Contains("no ANTHROPIC_API_KEY: replies come from the local emulator", first.Output);
        Assert.Contains("I can see 5 messages", first.Output);

        var second = await _ledger.RunAsync("What's my name?\n", "chat", "--thread", "t1");

        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Contains("resuming local/default/t1: 3 turns", second.Output);
        // The emulator's reply shows what it received: the six earlier messages and the new one.
        Assert.Contains("I can see 7 messages", second.Output);
        Assert.Contains("Earliest user text: \"My name is Hesham.\"", second.Output);
    }

    [Fact]
    public async Task Demo_shows_stateless_requests_cannot_see_the_name_and_a_thread_can()
    {
        var result = await _ledger.RunAsync("", "demo");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("did the second reply know the name? stateless: no, stateful: yes", result.Output);
    }

    [Fact]
    public async Task Usage_and_inspect_report_on_a_stored_thread()
    {
        await _ledger.RunAsync("one\ntwo\n", "chat");

        var usage = await _ledger.RunAsync("", "usage", "default");
        var inspect = await _ledger.RunAsync("", "inspect", "default", "--raw");

        Assert.True(usage.ExitCode == 0, usage.ToString());
        Assert.Matches(@"(?m)^ *turn +input +cache rd +cache wr +output +cost +context$", usage.Output);
        Assert.Matches(@"(?m)^ +2 +\d", usage.Output);
        Assert.True(inspect.ExitCode == 0, inspect.ToString());
        // --raw: the body alone, one line, as it would be sent.
        Assert.StartsWith("{\"model\":\"claude-sonnet-5-5\"", inspect.Output);
        Assert.Contains("\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"one\"", inspect.Output);
        Assert.Single(inspect.Output.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public async Task Export_and_import_round_trip_a_thread()
    {
        await _ledger.RunAsync("one\ntwo\n/pin 1\n", "chat", "--thread", "orig");
        var file = Path.Combine(_ledger.Root, "orig.json");

        var export = await _ledger.RunAsync("", "export", "orig", "-o", file);
        var import = await _ledger.RunAsync("", "import", file, "--as", "copy");
        var original = await _ledger.RunAsync("", "show", "orig");
        var copy = await _ledger.RunAsync("", "show", "copy");

        Assert.True(export.ExitCode == 0, export.ToString());
        Assert.True(import.ExitCode == 0, import.ToString());
        Assert.True(copy.ExitCode == 0, copy.ToString());
        Assert.Equal(original.Output.Replace("/orig", "/copy", StringComparison.Ordinal), copy.Output);
        Assert.Contains("pinned", copy.Output);
    }

    [Fact]
    public async Task A_bad_store_uri_is_one_clear_error_line_and_a_nonzero_exit()
    {
        var result = await _ledger.RunAsync("", "threads", "--store", "mysql:whatever");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Equal("error: bad store \"mysql:whatever\": expected sqlite:PATH, postgres:CONNECTION-STRING, redis:CONFIG or memory:", result.Errors.Trim());
    }

    [Fact]
    public async Task An_unreachable_store_is_one_error_line_and_exit_code_1()
    {
        var result = await _ledger.RunAsync("", "threads", "--store", "postgres:Host=127.0.0.1;Port=1;Username=nobody;Timeout=2");

        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("error: the store postgres:(connection string) failed: ", result.Errors.Trim());
        Assert.Single(result.Errors.Trim().Split('\n'));
    }

    [Fact]
    public async Task A_sqlite_error_names_the_file()
    {
        var broken = Path.Combine(_ledger.Root, "broken.db");
        await File.WriteAllTextAsync(broken, "this is not a database, but it is long enough to have a header of sorts........");

        var result = await _ledger.RunAsync("", "threads", "--store", "sqlite:" + broken);

        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith($"error: the store sqlite:{broken} failed: ", result.Errors.Trim());
        Assert.Single(result.Errors.Trim().Split('\n'));
    }

    [Fact]
    public async Task A_missing_thread_is_one_error_line_without_a_stack_trace()
    {
        var result = await _ledger.RunAsync("", "show", "nope");

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("error: thread local/default/nope does not exist (ledger threads lists them)", result.Errors.Trim());
    }
}
