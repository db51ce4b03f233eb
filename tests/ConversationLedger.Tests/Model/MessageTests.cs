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
}
