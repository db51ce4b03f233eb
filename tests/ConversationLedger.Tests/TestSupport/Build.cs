namespace ConversationLedger.Tests.TestSupport;

/// <summary>Short ways to write messages and blocks in tests.</summary>
internal static class Build
{
    public static ContentBlock Raw(string json) => ContentBlock.Parse(json);

    public static ContentBlock Text(string text) => ContentBlock.CreateText(text);

    public static ContentBlock ToolUse(string id) => ContentBlock.CreateToolUse(id, "get_weather", """{"city":"Oslo"}""");

    public static ContentBlock ToolResult(string id) => ContentBlock.CreateToolResult(id, "12°C, cloudy");

    public static ContentBlock Thinking() => ContentBlock.CreateThinking("Let me think.", "sig-EqQKCkYIBxgCKkA");

    public static Message User(params ContentBlock[] content) => new(Role.User, content);

    public static Message User(string text) => Message.User(text);

    public static Message Assistant(params ContentBlock[] content) => new(Role.Assistant, content);

    public static Message Assistant(string text) => Message.Assistant(text);

    public static Message SystemMessage(string text) => new(Role.System, [ContentBlock.CreateText(text)]);

    public static Message[] Messages(params Message[] messages) => messages;
}
