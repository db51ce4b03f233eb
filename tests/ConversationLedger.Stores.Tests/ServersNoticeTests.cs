namespace ConversationLedger.Stores.Tests;

/// <summary>What a newcomer's <c>dotnet test</c> says when the servers are not running.</summary>
public sealed class ServersNoticeTests
{
    [Fact]
    public void The_line_names_each_missing_server_and_the_command_that_starts_them()
    {
        var both = Servers.MissingLine(postgresMissing: true, redisMissing: true);
        var redis = Servers.MissingLine(postgresMissing: false, redisMissing: true);

        Assert.NotNull(both);
        Assert.StartsWith("PostgreSQL (", both, StringComparison.Ordinal);
        Assert.Contains(") and Redis (", both, StringComparison.Ordinal);
        Assert.Contains("Start both with: bash scripts/services.sh start", both, StringComparison.Ordinal);
        Assert.Contains("CI=true", both, StringComparison.Ordinal);
        Assert.StartsWith("Redis (", redis, StringComparison.Ordinal);
        Assert.Contains("Start it with: bash scripts/services.sh start", redis, StringComparison.Ordinal);
        Assert.Null(Servers.MissingLine(postgresMissing: false, redisMissing: false));
    }

    [Fact]
    public void The_runner_shows_diagnostic_messages_so_the_line_is_seen()
    {
        var config = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "xunit.runner.json"));

        Assert.Contains("\"diagnosticMessages\": true", config, StringComparison.Ordinal);
    }
}
