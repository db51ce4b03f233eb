using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace ConversationLedger.Server.Api;

/// <summary>How the API reads and writes JSON: snake_case names as the Messages API uses, unknown fields refused.</summary>
internal static class ApiJson
{
    /// <summary>The serializer options of every request and response.</summary>
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = null,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        RespectNullableAnnotations = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        MaxDepth = Message.MaxDepth + 8,
        Converters = { new RawJson.Converter() },
    };

    /// <summary>
    /// Reads the body as <typeparamref name="T"/>: an empty body is an empty object, and malformed JSON, invalid UTF-8, a wrong
    /// type or an unknown field throws (<see cref="JsonException"/> naming where, <see cref="FormatException"/>): a 400.
    /// </summary>
    public static async Task<T> ReadAsync<T>(HttpRequest request) where T : new() => Parse<T>(await ReadBytesAsync(request));

    /// <summary>The body's bytes (within the route's size limit), checked to be UTF-8 JSON text.</summary>
    /// <exception cref="FormatException">The content type is not JSON, or the bytes are not valid UTF-8.</exception>
    public static async Task<ReadOnlyMemory<byte>> ReadBytesAsync(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.ContentType is { } type && !type.StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
        {
            throw new FormatException($"the body must be application/json, not {type}");
        }
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, request.HttpContext.RequestAborted);
        var bytes = buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
        // The serializer reads invalid UTF-8 inside strings without complaint and fails later, when the text is used.
        if (!System.Text.Unicode.Utf8.IsValid(bytes.Span))
        {
            throw new FormatException("the body is not valid UTF-8");
        }
        return bytes;
    }

    /// <summary>Parses a body read by <see cref="ReadBytesAsync"/>; an empty body is an empty object.</summary>
    public static T Parse<T>(ReadOnlyMemory<byte> body) where T : new() =>
        body.IsEmpty ? new T() : JsonSerializer.Deserialize<T>(body.Span, Options) ?? new T();

    /// <summary>Writes JSON text with a writer, as the API writes it.</summary>
    public static string Write(Action<Utf8JsonWriter> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = Options.Encoder }))
        {
            body(writer);
        }
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}

/// <summary>JSON text written as it is (messages and entries, kept verbatim by the ledger).</summary>
[JsonConverter(typeof(Converter))]
internal sealed record RawJson(string Json)
{
    /// <summary>A message as the Messages API writes it.</summary>
    public static RawJson Of(Message message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return new RawJson(message.ToJson());
    }

    /// <summary>Writes and reads the text unchanged.</summary>
    public sealed class Converter : JsonConverter<RawJson>
    {
        /// <inheritdoc />
        public override RawJson Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            using var document = JsonDocument.ParseValue(ref reader);
            return new RawJson(document.RootElement.GetRawText());
        }

        /// <inheritdoc />
        public override void Write(Utf8JsonWriter writer, RawJson value, JsonSerializerOptions options)
        {
            ArgumentNullException.ThrowIfNull(writer);
            ArgumentNullException.ThrowIfNull(value);
            writer.WriteRawValue(value.Json, skipInputValidation: true);
        }
    }
}
