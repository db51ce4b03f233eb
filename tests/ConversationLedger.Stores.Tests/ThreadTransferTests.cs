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
    public async Task Token_counts_in_the_file_are_counted_again_not_trusted()
    {
        // A count of 2^31 − 1 per message would push the whole history out of every token window.
        var head = await ThreadTransfer.ImportAsync(_store, _key, new MemoryStream(Encoding.UTF8.GetBytes("""
            {"format":"conversation-ledger/1","entries":[
              {"sequence":1,"kind":"message","tokens":2147483647,"payload":{"role":"user","content":"hi"}},
              {"sequence":2,"kind":"message","tokens":2147483647,"payload":{"role":"assistant","content":"hello"}},
              {"sequence":3,"kind":"edit","tokens":2147483647,"payload":{"target":2,"message":{"role":"assistant","content":"hey"},"tokens":2147483647}}]}
            """)));

        var window = await _store.ReadWindowAsync(_key, new WindowSpec { LastTokens = 100 });
        var entries = await _store.ReadEntriesAsync(_key, 0, 10);

        Assert.Equal(O200kTokenCounter.Instance.CountTokens(Message.User("hi")) + O200kTokenCounter.Instance.CountTokens(Message.Assistant("hello")),
            head.RunningTokens);
        Assert.Equal(["hi", "hey"], ConversationView.Project(window).Messages.Select(m => m.Message.Text));
        Assert.Equal(O200kTokenCounter.Instance.CountTokens(Message.Assistant("hey")), ((EditEntry)entries[2]).ReplacementTokens);
        Assert.Equal(0, entries[2].Tokens);
    }

    [Theory]
    [InlineData("""{"kind":"message","payload":{"role":"assistant","content":5}}""", "entry 2 (message) has a malformed payload")]
    [InlineData("""{"kind":"message"}""", "entry 2 needs a string \"kind\" and a \"payload\"")]
    [InlineData("[]", "entry 2 must be a JSON object")]
    [InlineData("""{"kind":"reset","payload":{},"sequence":1.5}""", "entry 2: \"sequence\" must be a whole number")]
    public async Task A_malformed_entry_is_refused_naming_its_place_in_the_file(string entry, string expected)
    {
        // Entries may leave out their sequence; the error still names where the entry is.
        var error = await ImportFailsAsync($$$"""
            {"format":"conversation-ledger/1","entries":[
              {"kind":"message","payload":{"role":"user","content":"hi"}},
              {{{entry}}}]}
            """);

        Assert.IsType<LedgerFormatException>(error);
        Assert.StartsWith(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_message_nested_deeper_than_the_limit_is_refused_and_one_at_the_limit_round_trips()
    {
        var tooDeep = await ImportFailsAsync(ToolLoop(Message.MaxDepth + 1));
        var exported = await ImportFailsAsync(ExportOf(ToolLoop(Message.MaxDepth + 1)));

        await ThreadTransfer.ImportAsync(_store, _key, new MemoryStream(Encoding.UTF8.GetBytes(ToolLoop(Message.MaxDepth))));
        using var export = new MemoryStream();
        await ThreadTransfer.ExportAsync(_store, _key, export);
        var copy = new ThreadKey("tenant", "scope", "again");
        var again = await ThreadTransfer.ImportAsync(_store, copy, new MemoryStream(export.ToArray()));

        Assert.Equal("message 1: the content block nests deeper than 46 levels", tooDeep.Message);
        Assert.Equal("entry 2 (message) has a malformed payload: the content block nests deeper than 46 levels", exported.Message);
        Assert.Equal(4, again.RunningMessages);
        Assert.Equal(ToolLoopMessage(Message.MaxDepth), (await _store.ReadEntriesAsync(copy, 1, 1)).OfType<MessageEntry>().Single().Message.ToJson());
    }

    [Theory]
    [InlineData("""{"messages":[{"role":"user","content":"hi \ud800"},{"role":"assistant","content":"hello"}]}""")]
    [InlineData("""{"thread":{"id":"x\udc00"},"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}""")]
    [InlineData("""{"system":"\ud800","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}""")]
    [InlineData("""{"format":"conversation-ledger/1","entries":[{"kind":"message","turn_id":"\ud800","payload":{"role":"user","content":"hi"}}]}""")]
    public async Task A_string_that_is_not_text_anywhere_in_the_file_is_refused(string json)
    {
        var error = await ImportFailsAsync(json);

        Assert.IsType<LedgerFormatException>(error);
        Assert.StartsWith("the file holds a string that is not valid Unicode text", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bytes_that_are_not_utf8_inside_a_string_are_refused()
    {
        const string before = "{\"messages\":[{\"role\":\"user\",\"content\":\"";
        byte[] json = [.. Encoding.UTF8.GetBytes(before), (byte)'a', 0xFF, 0xFE, .. "\"},{\"role\":\"assistant\",\"content\":\"b\"}]}"u8];

        var error = await Assert.ThrowsAsync<LedgerFormatException>(() => ThreadTransfer.ImportAsync(_store, _key, new MemoryStream(json)));

        // The string starts at the quote that ends `before`.
        Assert.Equal($"the file holds a string that is not valid Unicode text (an unpaired surrogate or bytes that are not UTF-8) at byte {before.Length}",
            error.Message);
        Assert.False((await _store.GetHeadAsync(_key)).Exists);
    }

    // A question, a tool call whose input nests so that its message is `depth` levels deep, its result and an answer.
    private static string ToolLoop(int depth) =>
        $$"""{"messages":[{"role":"user","content":"q"},{{ToolLoopMessage(depth)}},{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"ok"}]},{"role":"assistant","content":"done"}]}""";

    private static string ToolLoopMessage(int depth)
    {
        // message (1) > content (2) > block (3) > input (4) > nested objects down to the depth asked for.
        var objects = depth - 3;
        var input = string.Concat(Enumerable.Repeat("{\"a\":", objects - 1)) + "{}" + new string('}', objects - 1);
        return $$"""{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"f","input":{{input}}}]}""";
    }

    // The same messages as export entries.
    private static string ExportOf(string apiFile)
    {
        using var document = System.Text.Json.JsonDocument.Parse(apiFile, new System.Text.Json.JsonDocumentOptions { MaxDepth = 256 });
        var entries = document.RootElement.GetProperty("messages").EnumerateArray()
            .Select((m, i) => $$"""{"sequence":{{i + 1}},"kind":"message","payload":{{m.GetRawText()}}}""");
        return $$"""{"format":"conversation-ledger/1","entries":[{{string.Join(",", entries)}}]}""";
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
