using ConversationLedger.Cli.Tests.Support;

namespace ConversationLedger.Cli.Tests;

/// <summary>ledger usage: every billed call, and no call counted in two threads.</summary>
public sealed class UsageTests
{
    [Fact]
    public async Task A_forks_copied_usage_is_shown_as_inherited_and_left_out_of_its_total()
    {
        var cli = new CliHarness();
        await cli.RunAsync("one\ntwo\n", "chat");
        await cli.RunAsync("", "fork", "default", "--to", "side");
        await cli.RunAsync("three\n", "chat", "-t", "side");

        var result = await cli.RunAsync("", "usage", "side");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("1 (inherited)", result.Output);
        Assert.Contains("2 (inherited)", result.Output);
        Assert.Contains("inherited: copied from local/default/default by the fork", result.Output);
        // The thread's own total is its one turn: 100 input tokens, not 300.
        var own = result.Output.Split('\n').Single(l => l.TrimStart().StartsWith("this thread", StringComparison.Ordinal));
        Assert.Contains(" 100 ", own);
        Assert.DoesNotContain(" 300 ", own);
    }

    [Fact]
    public async Task A_reply_cancelled_after_it_started_is_in_the_usage_as_cancelled()
    {
        var cli = new CliHarness();
        cli.Model.HoldStream = true;
        cli.Model.ReportsStart = true;
        using var input = new BlockingInput();
        input.Add("first");
        var run = cli.RunAsync(input, interrupts =>
        {
            _ = cli.Model.FirstDeltaSent.Task.ContinueWith(_ =>
            {
                interrupts.Raise();
                cli.Model.HoldStream = false;
                input.Add("/exit");
            }, TaskScheduler.Default);
        }, "chat");
        await run.WaitAsync(TimeSpan.FromSeconds(30));

        var result = await cli.RunAsync("", "usage", "default");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("cancelled", result.Output);
        Assert.Contains("billed but are part of no stored turn", result.Output);
    }
}
