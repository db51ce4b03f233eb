using System.Text;
using ConversationLedger.Cli.Tests.Support;

namespace ConversationLedger.Cli.Tests;

public sealed class TransferTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("ledger-cli-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task Export_without_a_file_writes_the_document_to_the_output()
    {
        var cli = new CliHarness();
        await cli.RunAsync("one\n", "chat");

        var result = await cli.RunAsync("", "export", "default");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("\"format\": \"conversation-ledger/1\"", result.Output);
    }

    [Fact]
    public async Task Export_refuses_to_overwrite_a_file_unless_forced()
    {
        var cli = new CliHarness();
        await cli.RunAsync("one\n", "chat");
        var file = Path.Combine(_folder, "kept.json");
        await File.WriteAllTextAsync(file, "precious");

        var refused = await cli.RunAsync("", "export", "default", "-o", file);
        var kept = await File.ReadAllTextAsync(file);
        var forced = await cli.RunAsync("", "export", "default", "-o", file, "--force");

        Assert.Equal(1, refused.ExitCode);
        Assert.Equal($"error: {file} exists; --force overwrites it", refused.Output.Trim());
        Assert.Equal("precious", kept);
        Assert.Equal(0, forced.ExitCode);
        Assert.Contains("\"format\": \"conversation-ledger/1\"", await File.ReadAllTextAsync(file));
        Assert.Equal(["kept.json"], Directory.GetFiles(_folder).Select(Path.GetFileName));
    }

    [Fact]
    public async Task An_export_that_cannot_be_written_names_the_file_and_never_a_temporary_one()
    {
        var cli = new CliHarness();
        await cli.RunAsync("one\n", "chat");
        var file = Path.Combine(_folder, "missing-folder", "out.json");

        var result = await cli.RunAsync("", "export", "default", "-o", file);

        Assert.Equal(1, result.ExitCode);
        Assert.Equal($"error: cannot write {file}: its folder does not exist", result.Output.Trim());
        Assert.DoesNotContain("partial", result.Output);
    }

    [Fact]
    public async Task Import_takes_the_thread_id_from_the_file_and_refuses_to_overwrite()
    {
        var cli = new CliHarness();
        await cli.RunAsync("one\n", "chat", "--thread", "orig");
        var file = Path.Combine(_folder, "export.json");
        await cli.RunAsync("", "export", "orig", "-o", file);
        await cli.RunAsync("", "delete", "orig", "--yes");

        var first = await cli.RunAsync("", "import", file);
        var second = await cli.RunAsync("", "import", file);

        Assert.Equal(0, first.ExitCode);
        Assert.Contains("into local/default/orig", first.Output);
        Assert.Equal(1, second.ExitCode);
        Assert.Contains("error: thread local/default/orig already exists; --as NEW-ID imports it under another id", second.Output);
    }

    [Fact]
    public async Task Import_of_a_file_with_a_byte_order_mark_takes_the_thread_id_from_it()
    {
        var cli = new CliHarness();
        var file = Path.Combine(_folder, "saved-on-windows.json");
        await File.WriteAllTextAsync(file, """
            {"thread":{"id":"orig"},"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}
            """, new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: true));

        var result = await cli.RunAsync("", "import", file);

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("into local/default/orig", result.Output);
    }

    [Fact]
    public async Task Import_of_a_file_over_the_limit_is_refused_by_its_size_and_stores_nothing()
    {
        var cli = new CliHarness();
        var file = Path.Combine(_folder, "huge.json");
        await using (var stream = File.Create(file))
        {
            stream.SetLength(ThreadTransfer.MaxImportBytes + 1); // sparse: nothing is written
        }

        var result = await cli.RunAsync("", "import", file);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("an import may be at most 33,554,432", result.Output);
        Assert.Empty((await cli.Store.ListThreadsAsync("local", null, new PageRequest(Limit: 10))).Threads);
    }

    [Fact]
    public void A_fork_name_never_splits_an_emoji()
    {
        // The cut for the "-fork-xxxxxx" suffix falls inside the first emoji.
        var id = new string('a', ThreadKey.MaxPartLength - 13) + "🙂🙂🙂🙂🙂🙂🙂🙂";

        var name = ConversationLedger.Cli.Chat.ChatSession.ForkName(id);

        Assert.True(name.Length <= ThreadKey.MaxPartLength);
        Assert.DoesNotContain(System.Text.Rune.ReplacementChar, name.EnumerateRunes()); // a lone surrogate reads as U+FFFD
        Assert.StartsWith(new string('a', ThreadKey.MaxPartLength - 13) + "-fork-", name, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Import_of_a_file_whose_thread_id_cannot_be_used_says_so_and_points_to_as()
    {
        var cli = new CliHarness();
        var file = Path.Combine(_folder, "export.json");
        await File.WriteAllTextAsync(file, """
            {"thread":{"id":" "},"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}
            """);

        var result = await cli.RunAsync("", "import", file);

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("error: the file's thread id \" \" cannot be used: it must be 1–200 characters without control characters; --as ID names the new thread",
            result.Output.Trim());
    }

    [Fact]
    public async Task Importing_a_broken_file_is_one_error_line_and_stores_nothing()
    {
        var cli = new CliHarness();
        var file = Path.Combine(_folder, "broken.json");
        await File.WriteAllTextAsync(file, """{"messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}]}""");

        var result = await cli.RunAsync("", "import", file, "--as", "x");

        Assert.Equal(1, result.ExitCode);
        Assert.Single(result.Output.Trim().Split('\n'));
        Assert.StartsWith("error:", result.Output.Trim());
        Assert.False((await cli.Store.GetHeadAsync(new ThreadKey("local", "default", "x"))).Exists);
    }

    public static TheoryData<string> HostileImports => new(HostileFiles().Keys);

    // Files a reader could not read back: strings that are not text (reading them throws), content too deep to re-parse.
    private static Dictionary<string, (byte[] File, string Error)> HostileFiles()
    {
        const string answer = """{"role":"assistant","content":"hello"}""";
        const string notText = "error: the file holds a string that is not valid Unicode text";
        var input = string.Concat(Enumerable.Repeat("{\"a\":", 58)) + "{}" + new string('}', 58);
        return new()
        {
            ["an unpaired surrogate in a message"] = (Encoding.UTF8.GetBytes($$"""{"messages":[{"role":"user","content":"hi \ud800"},{{answer}}]}"""), notText),
            ["an unpaired surrogate in the thread id"] = (Encoding.UTF8.GetBytes($$"""{"thread":{"id":"t\udc00"},"messages":[{"role":"user","content":"hi"},{{answer}}]}"""), notText),
            ["bytes that are not UTF-8 in a string"] = ([.. "{\"messages\":[{\"role\":\"user\",\"content\":\"hi"u8, 0xFF, 0xFE, .. "\"},"u8, .. Encoding.UTF8.GetBytes(answer), .. "]}"u8], notText),
            ["a tool call nested 62 levels deep"] = (Encoding.UTF8.GetBytes($$"""
                {"messages":[{"role":"user","content":"q"},{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"f","input":{{input}}}]},
                {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"ok"}]},{{answer}}]}
                """), "error: message 1: the content block nests deeper than 46 levels"),
        };
    }

    [Theory]
    [MemberData(nameof(HostileImports))]
    public async Task Importing_a_file_the_ledger_could_not_read_back_is_one_error_line_and_stores_nothing(string name)
    {
        var cli = new CliHarness();
        var (content, error) = HostileFiles()[name];
        var file = Path.Combine(_folder, "hostile.json");
        await File.WriteAllBytesAsync(file, content);

        var result = await cli.RunAsync("", "import", file);

        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith(error, Assert.Single(result.Output.Trim().Split('\n')), StringComparison.Ordinal);
        Assert.Empty((await cli.Store.ListThreadsAsync("local", null, new PageRequest(Limit: 10))).Threads);
    }

    [Theory]
    [InlineData("--port", "70000", "--port must be 0–65535")]
    [InlineData("--fault", "explode", "--fault: unknown fault")]
    public async Task The_emulator_command_checks_its_options(string option, string value, string expected)
    {
        var cli = new CliHarness();

        var result = await cli.RunAsync("", "emulator", option, value);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains(expected, result.Output);
    }
}
