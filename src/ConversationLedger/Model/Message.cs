using System.Text;
using System.Text.Json;

namespace ConversationLedger;

/// <summary>
/// A message of the conversation: a role and its content blocks, kept as the API gave them.
/// Equality compares roles and the verbatim JSON of every block.
/// </summary>
public sealed record Message
{
    /// <summary>
    /// How deeply a message's JSON may nest, its own object counting 1 (so a block's own JSON may nest two less).
    /// Deeper messages are refused wherever message JSON enters (<see cref="Parse(JsonElement)"/>,
    /// <see cref="ContentBlock"/>, imports): every message is later wrapped — in a request body, an edit payload, an
    /// export (at most 4 levels more) — and read back by readers with System.Text.Json's default limit of 64 levels.
    /// </summary>
    public const int MaxDepth = 48;

    /// <summary>Creates a message.</summary>
    public Message(Role role, IReadOnlyList<ContentBlock> content)
    {
        ArgumentNullException.ThrowIfNull(content);
        Role = role;
        Content = content.ToArray();
    }

    /// <summary>The role.</summary>
    public Role Role { get; }

    /// <summary>The content blocks, in order.</summary>
    public IReadOnlyList<ContentBlock> Content { get; }

    /// <summary>A user message with one text block.</summary>
    public static Message User(string text) => new(Role.User, [ContentBlock.CreateText(text)]);

    /// <summary>An assistant message with one text block.</summary>
    public static Message Assistant(string text) => new(Role.Assistant, [ContentBlock.CreateText(text)]);

    /// <summary>
    /// Whether this is an assistant message that calls a client tool, so the next message must carry the tool_result.
    /// (A server tool's result comes in the same message.)
    /// </summary>
    public bool CallsTools => Role == Role.Assistant && Content.Any(b => b.Type == "tool_use");

    /// <summary>The text of all text blocks, joined.</summary>
    public string Text => string.Concat(Content.Select(b => b.Text));

    /// <summary>Writes the message in the API's shape: <c>{"role":…,"content":[…]}</c>.</summary>
    public void WriteTo(Utf8JsonWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStartObject();
        writer.WriteString("role", Role.Value);
        writer.WriteStartArray("content");
        foreach (var block in Content)
        {
            block.WriteTo(writer);
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    /// <summary>The message as API JSON.</summary>
    public string ToJson() => Json.Write(WriteTo);

    /// <summary>
    /// Reads a message in the API's shape. String content becomes one text block; block JSON is kept verbatim.
    /// </summary>
    /// <exception cref="LedgerFormatException">
    /// The element is not a message object, nests deeper than <see cref="MaxDepth"/> or holds a string that is not text.
    /// </exception>
    public static Message Parse(JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new LedgerFormatException($"a message must be a JSON object, got {element.ValueKind}");
        }
        if (!element.TryGetProperty("role", out var role) || role.ValueKind != JsonValueKind.String)
        {
            throw new LedgerFormatException("a message needs a string \"role\"");
        }
        if (!element.TryGetProperty("content", out var content))
        {
            throw new LedgerFormatException("a message needs \"content\"");
        }
        IReadOnlyList<ContentBlock> blocks = content.ValueKind switch
        {
            JsonValueKind.String => [ContentBlock.CreateText(JsonInput.String(content, "the message's content"))],
            JsonValueKind.Array => content.EnumerateArray().Select(ContentBlock.From).ToArray(),
            _ => throw new LedgerFormatException($"message content must be a string or an array, got {content.ValueKind}"),
        };
        return new Message(new Role(JsonInput.String(role, "the message's role")), blocks);
    }

    /// <summary>Reads a message from API JSON text.</summary>
    public static Message Parse(string json)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            return Parse(document.RootElement);
        }
        catch (JsonException ex)
        {
            throw new LedgerFormatException($"message is not valid JSON: {ex.Message}", ex);
        }
    }

    /// <inheritdoc />
    public bool Equals(Message? other) =>
        other is not null && Role == other.Role && Content.SequenceEqual(other.Content);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Role);
        foreach (var block in Content)
        {
            hash.Add(block);
        }
        return hash.ToHashCode();
    }

    /// <inheritdoc />
    public override string ToString() => $"{Role}: {Truncate(Text, 80)}";

    private static string Truncate(string s, int max) => s.Length <= max ? s : string.Concat(s.AsSpan(0, max), "…");
}

/// <summary>Small helpers for writing JSON text with <see cref="Utf8JsonWriter"/>.</summary>
internal static class Json
{
    /// <summary>
    /// Characters written as themselves (quotes escaped as \", non-ASCII text as UTF-8; System.Text.Json still escapes
    /// characters beyond the BMP), not as \u escapes: what the ledger writes reads like what the API returns, and
    /// streamed and plain replies are stored alike.
    /// </summary>
    public static readonly System.Text.Encodings.Web.JavaScriptEncoder Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping;

    public static string Write(Action<Utf8JsonWriter> body, bool indented = false)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = indented, Encoder = Encoder }))
        {
            body(writer);
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
