using ConversationLedger.Cli.Hosting;

namespace ConversationLedger.Cli.Tests;

public sealed class StoreLocationTests
{
    [Theory]
    [InlineData("memory:", StoreKind.Memory, "")]
    [InlineData("sqlite:/var/ledger.db", StoreKind.Sqlite, "/var/ledger.db")]
    [InlineData("sqlite:///var/ledger.db", StoreKind.Sqlite, "/var/ledger.db")]
    [InlineData("postgres:Host=127.0.0.1;Port=55432;Username=postgres", StoreKind.Postgres, "Host=127.0.0.1;Port=55432;Username=postgres")]
    [InlineData("redis:127.0.0.1:56379", StoreKind.Redis, "127.0.0.1:56379")]
    public void Parse_reads_every_accepted_form(string text, StoreKind kind, string target) =>
        Assert.Equal(new StoreLocation(kind, target), StoreLocation.Parse(text));

    [Fact]
    public void A_connection_string_is_not_shown_in_messages() =>
        Assert.DoesNotContain("secret", StoreLocation.Parse("postgres:Host=x;Password=secret").ToString());

    [Fact]
    public void The_default_database_follows_XDG_DATA_HOME()
    {
        var path = CliDefaults.DefaultDatabasePath(name => name == "XDG_DATA_HOME" ? "/data" : null);

        Assert.Equal("/data/ledger/ledger.db", path);
    }

    [Fact]
    public void The_default_database_falls_back_to_the_home_directory()
    {
        var path = CliDefaults.DefaultDatabasePath(name => name == "HOME" ? "/home/me" : null);

        Assert.Equal("/home/me/.local/share/ledger/ledger.db", path);
    }
}
