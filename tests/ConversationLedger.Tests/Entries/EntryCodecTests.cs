using System.Text.Json;
using ConversationLedger.Storage;
using ConversationLedger.Tests.TestSupport;

namespace ConversationLedger.Tests.Entries;

public sealed class EntryCodecTests
{
    private static readonly DateTimeOffset At = new(2026, 11, 28, 7, 45, 0, TimeSpan.Zero);

    private static LedgerEntry ThroughColumns(LedgerEntry entry) =>
        EntryCodec.Decode(EntryCodec.KindName(entry.Kind), EntryCodec.EncodePayload(entry), entry.Sequence, entry.RecordedAt,
            entry.TurnId, entry.Tokens, entry.RunningTokens, entry.RunningMessages);

    private static LedgerEntry ThroughExport(LedgerEntry entry)
    {
        var json = ConversationLedger.Json.Write(w => EntryCodec.WriteEntry(w, entry));
        using var document = JsonDocument.Parse(json);
        return EntryCodec.ReadEntry(document.RootElement, 1);
    }

    public static TheoryData<string> EntryNames() => new(Entries().Keys);

    private static Dictionary<string, LedgerEntry> Entries() => new()
    {
        ["message"] = new MessageEntry(Message.Parse(RawJson.AssistantMessage)),
        ["system_prompt"] = new SystemPromptEntry("You are terse. \u00e9", 3),
        ["pin"] = new PinEntry(7, true),
        ["unpin"] = new PinEntry(7, false),
        ["summary"] = new SummaryEntry("They discussed JWT.", 1, 12, "claude-haiku-5-5", 4_000, 200),
        ["reset"] = new ResetEntry("new topic"),
        ["reset_without_reason"] = new ResetEntry(null),
        ["fork"] = new ForkEntry(new ThreadKey("acme", "ticket-42", "t1"), 9),
        ["edit"] = new EditEntry(5, Message.Parse("""{"role":"user","content":[""" + RawJson.UnknownBlock + """ , {"type":"text","text":"fixed"}]}""")),
        ["retraction"] = new EditEntry(5, Message.User("withdrawn")) { Retracted = true, ReplacementTokens = 0 },
        ["usage"] = new UsageEntry(new UsageRecord("claude-sonnet-5-5",
            new TokenUsage { InputTokens = 10, OutputTokens = 5, CacheReadInputTokens = 100, CacheCreation1hInputTokens = 3, CacheCreationInputTokens = 3, ThinkingTokens = 2, ServiceTier = "standard" },
            0.0001234m, "req_01", "end_turn")),
        ["usage_without_ids"] = new UsageEntry(new UsageRecord("m", new TokenUsage(), 0m)),
        ["usage_uncommitted"] = new UsageEntry(new UsageRecord("m", new TokenUsage { InputTokens = 3 }, 0.1m, "req_2") { Uncommitted = "cancelled" }),
    };

    private static LedgerEntry Stored(string name) => Entries()[name] with
    {
        Sequence = 4, RecordedAt = At, TurnId = "turn-1", Tokens = 12, RunningTokens = 50, RunningMessages = 3,
    };

    [Theory]
    [MemberData(nameof(EntryNames))]
    public void EncodePayload_then_Decode_gives_back_an_equal_entry(string name)
    {
        var entry = Stored(name);

        Assert.Equal(entry, ThroughColumns(entry));
    }

    [Theory]
    [MemberData(nameof(EntryNames))]
    public void WriteEntry_then_ReadEntry_gives_back_the_entry_without_its_running_sums(string name)
    {
        var entry = Stored(name);

        Assert.Equal(entry with { RunningTokens = 0, RunningMessages = 0 }, ThroughExport(entry));
    }

    [Fact]
    public void A_message_payload_keeps_unknown_blocks_and_signatures_byte_for_byte()
    {
        var entry = new MessageEntry(Message.Parse(RawJson.AssistantMessage));

        var payload = EntryCodec.EncodePayload(entry);
        var decoded = (MessageEntry)ThroughColumns(entry);

        foreach (var block in RawJson.AssistantBlocks)
        {
            Assert.Contains(block, payload, StringComparison.Ordinal);
        }
        Assert.Equal(RawJson.AssistantBlocks, decoded.Message.Content.Select(b => b.Json));
    }

    [Fact]
    public void Decode_keeps_the_blocks_of_a_payload_written_by_hand_verbatim()
    {
        var decoded = (MessageEntry)EntryCodec.Decode("message", RawJson.AssistantMessage, 1, At, null, 0, 0, 0);

        Assert.Equal(RawJson.AssistantBlocks, decoded.Message.Content.Select(b => b.Json));
    }

    [Fact]
    public void An_exported_message_keeps_unknown_blocks_and_signatures_byte_for_byte()
    {
        var entry = new MessageEntry(Message.Parse(RawJson.AssistantMessage)) { Sequence = 2, TurnId = "t" };

        var read = (MessageEntry)ThroughExport(entry);

        Assert.Equal(RawJson.AssistantBlocks, read.Message.Content.Select(b => b.Json));
    }

    [Fact]
    public void An_edit_payload_keeps_its_replacement_blocks_byte_for_byte()
    {
        var edit = (EditEntry)Stored("edit");

        var decoded = (EditEntry)ThroughExport((EditEntry)ThroughColumns(edit));

        Assert.Equal(RawJson.UnknownBlock, decoded.Replacement.Content[0].Json);
    }

    [Fact]
    public void ReadEntry_accepts_an_entry_with_odd_whitespace_and_key_order()
    {
        var json = "{ \"payload\" : " + RawJson.AssistantMessage + ",\n \"kind\":\"message\", \"turn_id\":\"t9\", \"sequence\": 3 }";
        using var document = JsonDocument.Parse(json);

        var entry = (MessageEntry)EntryCodec.ReadEntry(document.RootElement, 1);

        Assert.Equal(3, entry.Sequence);
        Assert.Equal("t9", entry.TurnId);
        Assert.Equal(RawJson.AssistantBlocks, entry.Message.Content.Select(b => b.Json));
    }

    [Fact]
    public void Every_kind_has_a_stored_name_that_reads_back_as_that_kind()
    {
        foreach (var kind in Enum.GetValues<EntryKind>())
        {
            Assert.Equal(kind, EntryCodec.ParseKind(EntryCodec.KindName(kind)));
        }
    }

    [Fact]
    public void An_unknown_kind_is_a_format_error()
    {
        Assert.Throws<LedgerFormatException>(() => EntryCodec.ParseKind("comment"));
        Assert.Throws<LedgerFormatException>(() => EntryCodec.Decode("comment", "{}", 1, At, null, 0, 0, 0));
    }

    [Theory]
    [InlineData("pin", """{"target":"seven","pinned":true}""")]
    [InlineData("pin", """{"pinned":true}""")]
    [InlineData("system_prompt", """{"text":"x"}""")]
    [InlineData("message", """{"role":"user"}""")]
    [InlineData("usage", """{"model":"m","cost_usd":"abc","usage":{}}""")]
    [InlineData("reset", "not json")]
    public void A_malformed_payload_is_a_format_error_naming_the_entry(string kind, string payload)
    {
        var ex = Assert.Throws<LedgerFormatException>(() => EntryCodec.Decode(kind, payload, 17, At, null, 0, 0, 0));

        Assert.Contains("17", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("""{"payload":{}}""")]
    [InlineData("""{"kind":"pin"}""")]
    public void ReadEntry_rejects_what_is_not_an_exported_entry(string json)
    {
        using var document = JsonDocument.Parse(json);
        var element = document.RootElement;

        Assert.Throws<LedgerFormatException>(() => EntryCodec.ReadEntry(element, 1));
    }

    [Theory]
    [InlineData("""{"kind":"reset","payload":{},"sequence":1.5}""")]
    [InlineData("""{"kind":"reset","payload":{},"tokens":99999999999}""")]
    public void ReadEntry_rejects_metadata_numbers_out_of_range_with_a_format_error(string json)
    {
        using var document = JsonDocument.Parse(json);
        var element = document.RootElement;

        Assert.Throws<LedgerFormatException>(() => EntryCodec.ReadEntry(element, 1));
    }

    [Fact]
    public void TargetOf_names_the_message_a_pin_or_edit_refers_to()
    {
        Assert.Equal(7, EntryCodec.TargetOf(new PinEntry(7, true)));
        Assert.Equal(5, EntryCodec.TargetOf(new EditEntry(5, Message.User("x"))));
        Assert.Null(EntryCodec.TargetOf(new ResetEntry(null)));
    }
}
