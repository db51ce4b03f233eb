using System.Text.Json;
using ConversationLedger.Tests.TestSupport;

namespace ConversationLedger.Tests.Model;

public sealed class MessageTests
{
    [Fact]
    public void Parse_keeps_every_block_as_the_exact_text_it_was_given()
    {
        // Given an assistant message with a thinking block, a redacted one, a block type nobody knows yet and text
        var json = RawJson.AssistantMessage;

        // When it is parsed
        var message = Message.Parse(json);

        // Then each block is the very text it came as
        Assert.Equal(Role.Assistant, message.Role);
        Assert.Equal(RawJson.AssistantBlocks, message.Content.Select(b => b.Json));
        Assert.Equal(["thinking", "redacted_thinking", "future_block_2027", "text"], message.Content.Select(b => b.Type));
    }

    [Fact]
    public void ToJson_then_Parse_gives_back_every_block_byte_for_byte()
    {
        var message = Message.Parse(RawJson.AssistantMessage);

        var again = Message.Parse(message.ToJson());

        Assert.Equal(RawJson.AssistantBlocks, again.Content.Select(b => b.Json));
        Assert.Equal(message, again);
        Assert.Equal(message.ToJson(), again.ToJson());
    }

    [Fact]
    public void ToJson_writes_the_role_and_the_blocks_verbatim_in_the_api_shape()
    {
        var message = Message.Parse(RawJson.AssistantMessage);

        var json = message.ToJson();

        Assert.Equal("{\"role\":\"assistant\",\"content\":[" + string.Join(",", RawJson.AssistantBlocks) + "]}", json);
    }

    [Fact]
    public void The_thinking_signature_survives_a_round_trip_with_its_escapes_intact()
    {
        var message = Message.Parse(Message.Parse(RawJson.AssistantMessage).ToJson());

        var thinking = message.Content[0];

        Assert.Contains("\"EqQBCkYIBxgCKkB\\u002Bq9/Zx==\"", thinking.Json, StringComparison.Ordinal);
        Assert.Equal("EqQBCkYIBxgCKkB+q9/Zx==", thinking.Thinking!.Signature);
        Assert.Equal("café 😀 \"quoted\"", thinking.Thinking.Text);
    }

    [Fact]
    public void Parse_turns_string_content_into_one_text_block()
    {
        var message = Message.Parse("""{"role":"user","content":"Hello"}""");

        Assert.Equal(Role.User, message.Role);
        Assert.Equal("""{"type":"text","text":"Hello"}""", Assert.Single(message.Content).Json);
    }

    [Theory]
    [InlineData("[1,2]")]
    [InlineData("""{"content":"x"}""")]
    [InlineData("""{"role":1,"content":"x"}""")]
    [InlineData("""{"role":"user"}""")]
    [InlineData("""{"role":"user","content":42}""")]
    [InlineData("""{"role":"user","content":[{"text":"no type"}]}""")]
    [InlineData("""{"role":"user","content":""")]
    public void Parse_rejects_what_is_not_a_message_with_a_format_error(string json)
    {
        Assert.Throws<LedgerFormatException>(() => Message.Parse(json));
    }

    [Fact]
    public void Parse_keeps_a_role_it_does_not_know_for_the_validator_to_reject()
    {
        var message = Message.Parse("""{"role":"tool","content":"x"}""");

        Assert.False(message.Role.IsKnown);
        Assert.Equal("tool", message.Role.Value);
    }

    [Fact]
    public void Messages_are_equal_when_roles_and_verbatim_blocks_are_equal()
    {
        Assert.Equal(Message.User("Hi"), Message.User("Hi"));
        Assert.Equal(Message.User("Hi").GetHashCode(), Message.User("Hi").GetHashCode());
        Assert.NotEqual(Message.User("Hi"), Message.Assistant("Hi"));
        Assert.NotEqual(
            Message.Parse("""{"role":"user","content":[{"type":"text","text":"Hi"}]}"""),
            Message.Parse("""{"role":"user","content":[{"type":"text", "text":"Hi"}]}"""));
    }

    [Fact]
    public void Text_joins_the_text_blocks_and_skips_the_others()
    {
        var message = new Message(Role.Assistant, [ContentBlock.CreateText("Hel"), ContentBlock.Parse(RawJson.UnknownBlock), ContentBlock.CreateText("lo")]);

        Assert.Equal("Hello", message.Text);
    }

    [Fact]
    public void A_message_keeps_its_own_copy_of_the_blocks()
    {
        var blocks = new List<ContentBlock> { ContentBlock.CreateText("Hi") };
        var message = new Message(Role.User, blocks);

        blocks.Add(ContentBlock.CreateText("later"));

        Assert.Single(message.Content);
    }

    /// <summary>A message whose one tool_use block nests its input so that the message is <paramref name="depth"/> levels deep.</summary>
    internal static string NestedMessage(int depth)
    {
        // message (1) > content (2) > block (3) > input (4) > "a" objects down to the depth asked for.
        var objects = depth - 3;
        var input = string.Concat(Enumerable.Repeat("{\"a\":", objects - 1)) + "{}" + new string('}', objects - 1);
        return $$"""{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"f","input":{{input}}}]}""";
    }

    [Fact]
    public void A_message_as_deep_as_the_limit_is_read_and_one_level_deeper_is_refused()
    {
        var deepest = Message.Parse(NestedMessage(Message.MaxDepth));
        using var wrapped = JsonDocument.Parse(deepest.ToJson(), new JsonDocumentOptions { MaxDepth = Message.MaxDepth });

        var error = Assert.Throws<LedgerFormatException>(() => Message.Parse(NestedMessage(Message.MaxDepth + 1)));

        Assert.Equal(JsonValueKind.Object, wrapped.RootElement.ValueKind);
        Assert.Equal("the content block nests deeper than 46 levels", error.Message);
        Assert.ThrowsAny<JsonException>(() => JsonDocument.Parse(deepest.ToJson(), new JsonDocumentOptions { MaxDepth = Message.MaxDepth - 1 }));
    }

    [Theory]
    [InlineData("""{"role":"user","content":"hi \ud800"}""", "the message's content")]
    [InlineData("""{"role":"\udc00","content":"hi"}""", "the message's role")]
    [InlineData("""{"role":"user","content":[{"type":"text","text":"\ud83d\ud83d"}]}""", "the content block")]
    [InlineData("""{"role":"user","content":[{"type":"text","text":"ok","\ud800":1}]}""", "the content block")]
    public void A_string_that_is_not_text_is_refused_where_the_message_is_read(string json, string what)
    {
        var error = Assert.Throws<LedgerFormatException>(() => Message.Parse(json));

        Assert.StartsWith($"{what} holds a string that is not valid Unicode text", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bytes_that_are_not_utf8_inside_a_string_are_refused()
    {
        byte[] json = [.. "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a"u8, 0xFF, 0xFE, .. "\"}]}"u8];
        using var document = JsonDocument.Parse(json);
        var element = document.RootElement;

        var error = Assert.Throws<LedgerFormatException>(() => Message.Parse(element));

        Assert.Contains("not valid Unicode text", error.Message, StringComparison.Ordinal);
    }
}
