using System.Text;

namespace ConversationLedger.Stores.Tests;

/// <summary>Import refuses bad files with one clear error and stores nothing.</summary>
public sealed class ThreadTransferTests
{
    private readonly InMemoryConversationStore _store = new();
    private readonly ThreadKey _key = new("tenant", "scope", "imported");

    private async Task<Exception> ImportFailsAsync(string json)
    {
        var error = await Assert.ThrowsAnyAsync<LedgerException>(() =>
            ThreadTransfer.ImportAsync(_store, _key, new MemoryStream(Encoding.UTF8.GetBytes(json))));
        Assert.False((await _store.GetHeadAsync(_key)).Exists);
        return error;
    }

    [Fact]
    public async Task A_plain_api_file_imports_with_its_system_prompt()
    {
        var json = """{"system":"be kind","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"text","text":"hello"}]}]}""";

        var head = await ThreadTransfer.ImportAsync(_store, _key, new MemoryStream(Encoding.UTF8.GetBytes(json)));

        var view = ConversationView.Project(await _store.ReadWindowAsync(_key, WindowSpec.All));
        Assert.Equal(3, head.LastSequence);
        Assert.Equal("be kind", view.SystemPrompt);
        Assert.Equal(["hi", "hello"], view.Messages.Select(m => m.Message.Text));
    }

    [Fact]
    public async Task A_file_saved_with_a_byte_order_mark_imports()
    {
        // Windows editors and PowerShell 5 write UTF-8 with a BOM.
        var json = """{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}""";
        var bytes = Encoding.UTF8.GetPreamble().Concat(Encoding.UTF8.GetBytes(json)).ToArray();

        var head = await ThreadTransfer.ImportAsync(_store, _key, new MemoryStream(bytes));

        Assert.Equal(2, head.RunningMessages);
    }

    [Fact]
    public async Task A_thread_with_a_system_prompt_and_no_turns_yet_round_trips()
    {
        // What `ledger chat --system …` leaves when it ends before the first message.
        var source = new ThreadKey("tenant", "scope", "prompt-only");
        await _store.AppendAsync(source, 0, [new SystemPromptEntry("be brief", 1)]);
        using var file = new MemoryStream();
        await ThreadTransfer.ExportAsync(_store, source, file);
        file.Position = 0;

        var head = await ThreadTransfer.ImportAsync(_store, _key, file);

        Assert.Equal(1, head.LastSequence);
        Assert.Equal("be brief", ConversationView.Project(await _store.ReadWindowAsync(_key, WindowSpec.All)).SystemPrompt);
    }

    [Fact]
    public async Task A_file_with_nothing_to_import_is_refused()
    {
        var error = await ImportFailsAsync("""{"messages":[]}""");

        Assert.Contains("holds no messages", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Wrong_roles_are_refused_naming_the_message()
    {
        var error = await ImportFailsAsync("""{"messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}]}""");

        var validation = Assert.IsType<LedgerValidationException>(error);
        Assert.Contains("message 1", validation.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_conversation_ending_with_an_unanswered_question_is_refused()
    {
        // A request body ends with the question it asks; stored as a thread, no turn could ever follow it.
        var error = await ImportFailsAsync("""
            {"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"},{"role":"user","content":"c"}]}
            """);

        Assert.IsType<LedgerFormatException>(error);
        Assert.Contains("ends with user message 2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_role_is_refused()
    {
        var error = await ImportFailsAsync("""{"messages":[{"role":"robot","content":"a"}]}""");

        Assert.Contains("robot", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_orphaned_tool_result_is_refused()
    {
        var error = await ImportFailsAsync("""
            {"messages":[
              {"role":"user","content":"weather?"},
              {"role":"assistant","content":"let me look"},
              {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_missing","content":"sunny"}]},
              {"role":"assistant","content":"sunny"}]}
            """);

        Assert.IsType<LedgerValidationException>(error);
        Assert.Contains("toolu_missing", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Broken_json_is_refused_naming_the_position()
    {
        var error = await ImportFailsAsync("{\"messages\":[\n{\"role\":\"user\",\"content\":\"hi\"\n]}");

        Assert.IsType<LedgerFormatException>(error);
        Assert.Contains("line 3", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_file_of_another_format_is_refused()
    {
        var error = await ImportFailsAsync("""{"format":"something-else/9","entries":[]}""");

        Assert.Contains("unknown format", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_entry_numbered_out_of_order_is_refused_naming_its_position()
    {
        var error = await ImportFailsAsync("""
            {"format":"conversation-ledger/1","entries":[
              {"sequence":1,"kind":"message","payload":{"role":"user","content":"hi"}},
              {"sequence":5,"kind":"message","payload":{"role":"assistant","content":"hello"}}]}
            """);

        Assert.StartsWith("entry 2 has sequence 5", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_entry_pointing_at_a_later_entry_is_refused()
    {
        var error = await ImportFailsAsync("""
            {"format":"conversation-ledger/1","entries":[
              {"sequence":1,"kind":"pin","payload":{"target":2,"pinned":true}},
              {"sequence":2,"kind":"message","payload":{"role":"user","content":"hi"}}]}
            """);

        Assert.Contains("refers to entry 2", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"sequence":3,"kind":"usage","payload":{"model":"m","cost_usd":"99999999999999999999999999999999","usage":{}}}""")]
    [InlineData("""{"sequence":3,"kind":"fork","payload":{"tenant":"","scope":"s","thread":"t","at":1}}""")]
    public async Task A_payload_with_an_out_of_range_value_is_refused_naming_the_entry(string entry)
    {
        var error = await ImportFailsAsync($$$"""
            {"format":"conversation-ledger/1","entries":[
              {"sequence":1,"kind":"message","payload":{"role":"user","content":"hi"}},
              {"sequence":2,"kind":"message","payload":{"role":"assistant","content":"hello"}},
              {{{entry}}}]}
            """);

        Assert.IsType<LedgerFormatException>(error);
        Assert.Contains("entry 3 (", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_50_MB_file_is_refused_before_it_is_parsed()
    {
        var big = new byte[50 * 1024 * 1024];
        big.AsSpan().Fill((byte)' ');

        var seekable = await Assert.ThrowsAsync<LedgerFormatException>(() => ThreadTransfer.ImportAsync(_store, _key, new MemoryStream(big)));
        var streamed = await Assert.ThrowsAsync<LedgerFormatException>(() => ThreadTransfer.ImportAsync(_store, _key, new UnseekableStream(big)));

        Assert.Contains("too large", seekable.Message, StringComparison.Ordinal);
        Assert.Contains("32 MB", streamed.Message, StringComparison.Ordinal);
        Assert.False((await _store.GetHeadAsync(_key)).Exists);
    }

    private sealed class UnseekableStream(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;

        public override long Length => throw new NotSupportedException();
    }
}
