using System.Text.Json;

namespace ConversationLedger.Emulator;

/// <summary>A reply a test queued: content blocks returned verbatim (text, tool_use, thinking with its signature, …).</summary>
/// <param name="Content">The content blocks, exactly as they will be returned.</param>
/// <param name="StopReason">The stop reason; null for <c>tool_use</c> when a tool_use block is present, else <c>end_turn</c>.</param>
/// <param name="StopSequence">The stop sequence reported, if any.</param>
public sealed record ScriptedReply(IReadOnlyList<ContentBlock> Content, string? StopReason = null, string? StopSequence = null)
{
    /// <summary>A reply of one text block.</summary>
    public static ScriptedReply Text(string text, string? stopReason = null) => new([ContentBlock.CreateText(text)], stopReason);

    /// <summary>The stop reason that will be reported.</summary>
    public string EffectiveStopReason => StopReason ?? (Content.Any(b => b.Type == "tool_use") ? "tool_use" : "end_turn");

    /// <summary>
    /// Reads one reply from JSON: a string (one text block), or <c>{"content":[…],"stop_reason":…,"stop_sequence":…}</c>.
    /// </summary>
    /// <exception cref="FormatException">The JSON is not a reply.</exception>
    public static ScriptedReply Parse(JsonElement element)
    {
        if (element.ValueKind == JsonValueKind.String)
        {
            return Text(element.GetString()!);
        }
        if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty("content", out var content))
        {
            throw new FormatException("a scripted reply is a string or an object with \"content\"");
        }
        IReadOnlyList<ContentBlock> blocks;
        try
        {
            blocks = content.ValueKind switch
            {
                JsonValueKind.String => [ContentBlock.CreateText(content.GetString()!)],
                JsonValueKind.Array => content.EnumerateArray().Select(ContentBlock.From).ToArray(),
                _ => throw new FormatException("\"content\" must be a string or a list of content blocks"),
            };
        }
        catch (LedgerFormatException ex)
        {
            throw new FormatException(ex.Message, ex);
        }
        return new ScriptedReply(blocks, OptionalString(element, "stop_reason"), OptionalString(element, "stop_sequence"));
    }

    private static string? OptionalString(JsonElement element, string name) =>
        !element.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null ? null
        : value.ValueKind == JsonValueKind.String ? value.GetString()
        : throw new FormatException($"\"{name}\" must be a string");
}
