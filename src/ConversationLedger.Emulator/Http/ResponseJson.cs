using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace ConversationLedger.Emulator;

/// <summary>The one place that writes the API's response bodies: messages, usage and the error envelope.</summary>
internal static class ResponseJson
{
    // Content blocks are copied verbatim; strings the emulator writes itself use the API's relaxed escaping.
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The usage object for a call.</summary>
    public static TokenUsage Usage(CacheAccounting prompt, long outputTokens, long thinkingTokens)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        return new TokenUsage
        {
            InputTokens = prompt.InputTokens,
            OutputTokens = outputTokens,
            CacheCreationInputTokens = prompt.CacheWriteTokens,
            CacheReadInputTokens = prompt.CacheReadTokens,
            CacheCreation5mInputTokens = prompt.CacheWrite5mTokens,
            CacheCreation1hInputTokens = prompt.CacheWrite1hTokens,
            ThinkingTokens = thinkingTokens,
            ServiceTier = "standard",
        };
    }

    /// <summary>A whole message object (the non-streaming response, or message_start's message with no content).</summary>
    public static void WriteMessage(Utf8JsonWriter writer, string id, string model, IReadOnlyList<ContentBlock> content,
        string? stopReason, string? stopSequence, TokenUsage usage)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(content);
        ArgumentNullException.ThrowIfNull(usage);
        writer.WriteStartObject();
        writer.WriteString("id", id);
        writer.WriteString("type", "message");
        writer.WriteString("role", "assistant");
        writer.WriteString("model", model);
        writer.WriteStartArray("content");
        foreach (var block in content)
        {
            block.WriteTo(writer);
        }
        writer.WriteEndArray();
        WriteNullableString(writer, "stop_reason", stopReason);
        WriteNullableString(writer, "stop_sequence", stopSequence);
        writer.WritePropertyName("usage");
        usage.WriteTo(writer);
        writer.WriteEndObject();
    }

    /// <summary>The error envelope: <c>{"type":"error","error":{"type":…,"message":…},"request_id":…}</c>.</summary>
    public static void WriteError(Utf8JsonWriter writer, ApiError error, string requestId)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(error);
        writer.WriteStartObject();
        writer.WriteString("type", "error");
        writer.WriteStartObject("error");
        writer.WriteString("type", error.Type);
        writer.WriteString("message", error.Message);
        writer.WriteEndObject();
        writer.WriteString("request_id", requestId);
        writer.WriteEndObject();
    }

    /// <summary>JSON text written by <paramref name="body"/>.</summary>
    public static string Write(Action<Utf8JsonWriter> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            body(writer);
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static void WriteNullableString(Utf8JsonWriter writer, string name, string? value)
    {
        if (value is null)
        {
            writer.WriteNull(name);
        }
        else
        {
            writer.WriteString(name, value);
        }
    }
}
