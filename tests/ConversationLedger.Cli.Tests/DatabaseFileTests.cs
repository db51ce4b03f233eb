using ConversationLedger.Cli.Hosting;
using ConversationLedger.Cli.Tests.Support;

namespace ConversationLedger.Cli.Tests;

/// <summary>SQLite files that are read-only or broken: reading commands still read, and every error names the file.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class DatabaseFileTests : IDisposable
{
    private readonly LedgerProcess _ledger = new();

    public void Dispose()
    {
        // A read-only folder of the test's own would stop the cleanup of a user who is not root.
        foreach (var folder in Directory.GetDirectories(_ledger.Root, "*", SearchOption.AllDirectories))
        {
            File.SetUnixFileMode(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        _ledger.Dispose();
    }

    [Theory]
    [InlineData("threads")]
    [InlineData("show", "default")]
    [InlineData("usage")]
    [InlineData("export", "default")]
    [InlineData("inspect", "default")]
    public async Task Reading_commands_open_the_store_read_only(params string[] command)
    {
        var cli = new CliHarness();
        await cli.RunAsync("hi\n", "chat");

        var result = await cli.RunAsync("", command);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal([StoreAccess.ReadWrite, StoreAccess.ReadOnly], cli.OpenedAccess);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Reading_commands_work_on_a_database_file_the_user_may_only_read(bool readOnlyFolder)
    {
        var folder = Path.Combine(_ledger.Root, "data");
        var database = Path.Combine(folder, "ledger.db");
        var store = "sqlite:" + database;
        Assert.Equal(0, (await _ledger.RunAsync("one\ntwo\n", "chat", "--store", store)).ExitCode);
        File.SetUnixFileMode(database, UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        if (readOnlyFolder)
        {
            File.SetUnixFileMode(folder, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute
                | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        }
        var before = await File.ReadAllBytesAsync(database);
        _ledger.Unprivileged = true;

        foreach (var command in new[] { "threads", "show default", "usage", "export default", "inspect default --raw" })
        {
            var result = await _ledger.RunAsync("", [.. command.Split(' '), "--store", store]);

            Assert.True(result.ExitCode == 0, $"{command}: {result}");
        }
        // A command that writes cannot, and says so naming the file (root, who may write anything, is not asked to).
        if (LedgerProcess.CanDropRoot || System.Environment.UserName != "root")
        {
            var chat = await _ledger.RunAsync("three\n", "chat", "--store", store);

            Assert.Equal(1, chat.ExitCode);
            Assert.StartsWith($"error: the store sqlite:{database} failed: SQLite Error 8: 'attempt to write a readonly database'.", chat.Errors.Trim());
        }
        Assert.Equal(before, await File.ReadAllBytesAsync(database));
        Assert.Equal(["ledger.db"], Directory.GetFiles(folder).Select(Path.GetFileName));
    }

    [Fact]
    public async Task A_reading_command_on_a_database_that_does_not_exist_yet_creates_nothing()
    {
        var database = Path.Combine(_ledger.Root, "new", "ledger.db");

        var threads = await _ledger.RunAsync("", "threads", "--store", "sqlite:" + database);
        var show = await _ledger.RunAsync("", "show", "default", "--store", "sqlite:" + database);

        Assert.Equal(0, threads.ExitCode);
        Assert.Contains("no threads yet", threads.Output);
        Assert.Equal(1, show.ExitCode);
        Assert.Equal("error: thread local/default/default does not exist (ledger threads lists them)", show.Errors.Trim());
        Assert.False(Directory.Exists(Path.GetDirectoryName(database)));
    }

    [Theory]
    [InlineData("chat")]
    [InlineData("keys", "list")]
    [InlineData("import", "FILE")]
    public async Task An_error_from_a_broken_database_names_the_file(params string[] command)
    {
        var broken = Path.Combine(_ledger.Root, "broken.db");
        await File.WriteAllTextAsync(broken, "this is not a database, but it is long enough to have a header of sorts........");
        var export = Path.Combine(_ledger.Root, "t.json");
        await File.WriteAllTextAsync(export, """{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}""");

        var result = await _ledger.RunAsync("hi\n", [.. command.Select(a => a == "FILE" ? export : a), "--store", "sqlite:" + broken]);

        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith($"error: the store sqlite:{broken} failed: ", result.Errors.Trim());
        Assert.Single(result.Errors.Trim().Split('\n'));
    }
}
