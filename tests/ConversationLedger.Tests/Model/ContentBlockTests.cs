using ConversationLedger.Tests.TestSupport;

namespace ConversationLedger.Tests.Model;

public sealed class ContentBlockTests
{
    [Fact]
    public void Parse_keeps_an_unknown_block_type_and_its_text()
    {
        var block = ContentBlock.Parse(RawJson.UnknownBlock);

        Assert.Equal("future_block_2027", block.Type);
        Assert.Equal(RawJson.UnknownBlock, block.Json);
        Assert.Equal(RawJson.UnknownBlock, block.ToString());
        Assert.Null(block.Text);
        Assert.Null(block.ToolUse);
        Assert.Null(block.Thinking);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[]")]
    [InlineData("\"text\"")]
    [InlineData("""{"text":"no type"}""")]
    [InlineData("""{"type":7}""")]
    public void Parse_rejects_what_is_not_a_typed_json_object(string json)
    {
        Assert.Throws<LedgerFormatException>(() => ContentBlock.Parse(json));
    }

    [Fact]
    public void CreateText_writes_a_text_block()
    {
        var block = ContentBlock.CreateText("Hi \"there\", café 🙂");

        // Quotes as \", other text as itself (System.Text.Json still escapes characters beyond the BMP, like emoji).
        Assert.Equal("""{"type":"text","text":"Hi \"there\", café \uD83D\uDE42"}""", block.Json);
        Assert.Equal("Hi \"there\", café 🙂", block.Text);
    }

    [Fact]
    public void CreateToolUse_writes_id_name_and_the_input_object()
    {
        var block = ContentBlock.CreateToolUse("toolu_01", "get_weather", """{"city":"Oslo"}""");

        Assert.Equal("""{"type":"tool_use","id":"toolu_01","name":"get_weather","input":{"city":"Oslo"}}""", block.Json);
        Assert.Equal("toolu_01", block.ToolUse!.Id);
        Assert.Equal("get_weather", block.ToolUse.Name);
        Assert.Equal("Oslo", block.ToolUse.Input.GetProperty("city").GetString());
    }

    [Fact]
    public void A_server_tool_use_block_also_exposes_its_tool_use()
    {
        var block = ContentBlock.Parse("""{"type":"server_tool_use","id":"srvtoolu_01","name":"web_search","input":{"query":"x"}}""");

        Assert.Equal("srvtoolu_01", block.ToolUse!.Id);
    }

    [Fact]
    public void CreateToolResult_answers_a_tool_use_and_can_report_an_error()
    {
        var ok = ContentBlock.CreateToolResult("toolu_01", "12°C");
        var failed = ContentBlock.CreateToolResult("toolu_02", "timeout", isError: true);

        Assert.Equal("toolu_01", ok.ToolResultFor);
        Assert.False(ok.IsToolError);
        Assert.Equal("toolu_02", failed.ToolResultFor);
        Assert.True(failed.IsToolError);
        Assert.Null(ContentBlock.CreateText("x").ToolResultFor);
    }

    [Fact]
    public void CreateThinking_keeps_the_signature()
    {
        var block = ContentBlock.CreateThinking("Let me think.", "c2ln");

        Assert.True(block.IsThinking);
        Assert.Equal(new Thinking("Let me think.", "c2ln"), block.Thinking);
    }

    [Fact]
    public void A_redacted_thinking_block_is_thinking_without_readable_text()
    {
        var block = ContentBlock.Parse(RawJson.RedactedThinkingBlock);

        Assert.True(block.IsThinking);
        Assert.Null(block.Thinking);
    }

    [Theory]
    [InlineData("", "get_weather", "id")]
    [InlineData("toolu_01", "", "name")]
    public void CreateToolUse_guards_its_id_and_name(string id, string name, string parameter)
    {
        Assert.Throws<ArgumentException>(parameter, () => ContentBlock.CreateToolUse(id, name));
    }

    [Theory]
    [InlineData("{not json")]
    [InlineData("[1,2]")]
    public void CreateToolUse_rejects_an_input_that_is_not_a_json_object_naming_the_parameter(string inputJson)
    {
        Assert.Throws<ArgumentException>("inputJson", () => ContentBlock.CreateToolUse("toolu_01", "get_weather", inputJson));
    }

    [Fact]
    public void CreateToolResult_guards_its_tool_use_id()
    {
        Assert.Throws<ArgumentException>("toolUseId", () => ContentBlock.CreateToolResult("", "x"));
        Assert.Throws<ArgumentNullException>("content", () => ContentBlock.CreateToolResult("toolu_01", null!));
    }

    [Fact]
    public void WithCacheControl_adds_a_breakpoint_to_a_copy_and_leaves_the_original_alone()
    {
        var original = ContentBlock.CreateText("Long document");

        var marked = original.WithCacheControl("1h");

        Assert.False(original.HasCacheControl);
        Assert.True(marked.HasCacheControl);
        Assert.Equal("""{"type":"text","text":"Long document","cache_control":{"type":"ephemeral","ttl":"1h"}}""", marked.Json);
    }

    [Fact]
    public void WithCacheControl_writes_no_ttl_for_the_default_five_minutes_and_removes_the_marker_for_null()
    {
        var marked = ContentBlock.CreateText("Doc").WithCacheControl("5m");

        Assert.Equal("""{"type":"text","text":"Doc","cache_control":{"type":"ephemeral"}}""", marked.Json);
        Assert.Equal("""{"type":"text","text":"Doc"}""", marked.WithCacheControl(null).Json);
    }

    [Fact]
    public void ReadableText_gives_what_the_model_reads_from_each_block_type()
    {
        Assert.Equal("Hi", ContentBlock.CreateText("Hi").ReadableText());
        Assert.Equal("Let me think.", ContentBlock.CreateThinking("Let me think.", "s").ReadableText());
        Assert.Equal("get_weather {\"city\":\"Oslo\"}", ContentBlock.CreateToolUse("toolu_01", "get_weather", """{"city":"Oslo"}""").ReadableText());
        Assert.Equal("12°C", ContentBlock.CreateToolResult("toolu_01", "12°C").ReadableText());
        Assert.Equal("a\nb\n", ContentBlock.Parse("""{"type":"tool_result","tool_use_id":"t","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}""").ReadableText());
        Assert.Equal("The report.", ContentBlock.Parse("""{"type":"document","source":{"type":"text","media_type":"text/plain","data":"The report."}}""").ReadableText());
        Assert.Equal("", ContentBlock.Parse("""{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBOR"}}""").ReadableText());
        Assert.Equal(RawJson.UnknownBlock, ContentBlock.Parse(RawJson.UnknownBlock).ReadableText());
    }

    [Fact]
    public void Blocks_are_equal_only_when_their_text_is_identical()
    {
        Assert.Equal(ContentBlock.Parse("""{"type":"text","text":"a"}"""), ContentBlock.CreateText("a"));
        Assert.NotEqual(ContentBlock.Parse("""{"type":"text","text":"a"}"""), ContentBlock.Parse("""{ "type":"text","text":"a"}"""));
    }

    [Fact]
    public void From_keeps_the_raw_text_of_an_element_inside_a_larger_document()
    {
        using var document = System.Text.Json.JsonDocument.Parse("[" + RawJson.ThinkingBlock + "]");

        var block = ContentBlock.From(document.RootElement[0]);

        Assert.Equal(RawJson.ThinkingBlock, block.Json);
    }
}

public sealed class ContentBlockReadableTextTests
{
    [Theory]
    [InlineData("""{"type":"document","source":{"type":"text","data":42}}""")]
    [InlineData("""{"type":"document","source":"oops"}""")]
    [InlineData("""{"type":"tool_result","tool_use_id":"toolu_1","content":[{"text":"no type"},7,"x"]}""")]
    public void Readable_text_never_throws_on_malformed_content(string json)
    {
        var block = ContentBlock.Parse(json);

        var text = block.ReadableText();

        Assert.NotNull(text);
        Assert.True(O200kTokenCounter.Instance.CountTokens(new Message(Role.User, [block])) > 0);
    }
}
