using System.Text;
using System.Text.Json;

namespace ConversationLedger;

/// <summary>
/// One content block of a message, kept exactly as the API gave it (its raw JSON text), with typed
/// helpers for the block types the ledger reasons about. Block types the code does not know and
/// thinking signatures survive every save and load byte for byte. Instances are immutable.
/// </summary>
public sealed class ContentBlock : IEquatable<ContentBlock>
{
    private readonly JsonElement _element;

    private ContentBlock(string json, JsonElement element, string type)
    {
        Json = json;
        _element = element;
        Type = type;
    }

    /// <summary>The block's JSON text, verbatim.</summary>
    public string Json { get; }

    /// <summary>The block's <c>type</c> (text, image, tool_use, tool_result, thinking, … or any other).</summary>
    public string Type { get; }

    /// <summary>The block as a JSON element (read-only view of <see cref="Json"/>).</summary>
    public JsonElement Element => _element;

    /// <summary>
    /// How deeply a block's JSON may nest, its own object counting 1: a message holds its blocks two levels down
    /// (<see cref="Message.MaxDepth"/> says why messages have a limit).
    /// </summary>
    public const int MaxDepth = Message.MaxDepth - 2;

    /// <summary>Parses a block from its JSON text and keeps that text verbatim.</summary>
    /// <exception cref="LedgerFormatException">
    /// The text is not a JSON object with a string <c>type</c>, nests deeper than <see cref="MaxDepth"/> or holds a string that is not text.
    /// </exception>
    public static ContentBlock Parse(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            using var document = JsonDocument.Parse(json);
            return Wrap(document.RootElement.Clone(), json);
        }
        catch (JsonException ex)
        {
            throw new LedgerFormatException($"content block is not valid JSON: {ex.Message}", ex);
        }
    }

    /// <summary>Wraps a JSON element, keeping its raw text as it appeared in its document.</summary>
    /// <exception cref="LedgerFormatException">As for <see cref="Parse"/>.</exception>
    public static ContentBlock From(JsonElement element) => Wrap(element, json: null);

    private static ContentBlock Wrap(JsonElement element, string? json)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new LedgerFormatException($"content block must be a JSON object, got {element.ValueKind}");
        }
        // Before anything reads its strings: reading one that is not text throws.
        JsonInput.Check(element, MaxDepth, "the content block");
        if (!element.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
        {
            throw new LedgerFormatException("content block has no string \"type\"");
        }
        if (json is null)
        {
            // A clone of the element, not a re-parse of its text: blocks are read on every turn's window.
            element = element.Clone();
            json = element.GetRawText();
        }
        return new ContentBlock(json, element, type.GetString()!);
    }

    /// <summary>A text block.</summary>
    public static ContentBlock CreateText(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Write(w =>
        {
            w.WriteString("type", "text");
            w.WriteString("text", text);
        });
    }

    /// <summary>A tool_use block (assistant side) with its input object as JSON.</summary>
    public static ContentBlock CreateToolUse(string id, string name, string inputJson = "{}")
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(inputJson);
        JsonDocument input;
        try
        {
            input = JsonDocument.Parse(inputJson);
        }
        catch (JsonException ex)
        {
            throw new ArgumentException($"the tool input is not valid JSON: {ex.Message}", nameof(inputJson), ex);
        }
        using var _ = input;
        if (input.RootElement.ValueKind != JsonValueKind.Object)
        {
            throw new ArgumentException($"the tool input must be a JSON object, got {input.RootElement.ValueKind}", nameof(inputJson));
        }
        return Write(w =>
        {
            w.WriteString("type", "tool_use");
            w.WriteString("id", id);
            w.WriteString("name", name);
            w.WritePropertyName("input");
            input.RootElement.WriteTo(w);
        });
    }

    /// <summary>A tool_result block (user side) answering the tool_use with <paramref name="toolUseId"/>.</summary>
    public static ContentBlock CreateToolResult(string toolUseId, string content, bool isError = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(toolUseId);
        ArgumentNullException.ThrowIfNull(content);
        return Write(w =>
        {
            w.WriteString("type", "tool_result");
            w.WriteString("tool_use_id", toolUseId);
            w.WriteString("content", content);
            if (isError)
            {
                w.WriteBoolean("is_error", true);
            }
        });
    }

    /// <summary>A thinking block with its signature.</summary>
    public static ContentBlock CreateThinking(string thinking, string signature) => Write(w =>
    {
        w.WriteString("type", "thinking");
        w.WriteString("thinking", thinking);
        w.WriteString("signature", signature);
    });

    /// <summary>The text of a text block; null for other types.</summary>
    public string? Text => Type == "text" ? GetString("text") : null;

    /// <summary>The id, name and input of a tool_use (or server_tool_use) block; null for other types.</summary>
    public ToolUse? ToolUse => Type is "tool_use" or "server_tool_use"
        ? new ToolUse(GetString("id") ?? "", GetString("name") ?? "", _element.TryGetProperty("input", out var input) ? input : default)
        : null;

    /// <summary>The <c>tool_use_id</c> a tool_result block answers; null for other types.</summary>
    public string? ToolResultFor => Type == "tool_result" ? GetString("tool_use_id") : null;

    /// <summary>Whether a tool_result block reports an error.</summary>
    public bool IsToolError => Type == "tool_result"
        && _element.TryGetProperty("is_error", out var e) && e.ValueKind == JsonValueKind.True;

    /// <summary>The thinking text and signature of a thinking block; null for other types.</summary>
    public Thinking? Thinking => Type == "thinking" ? new Thinking(GetString("thinking") ?? "", GetString("signature")) : null;

    /// <summary>Whether this is a thinking or redacted_thinking block.</summary>
    public bool IsThinking => Type is "thinking" or "redacted_thinking";

    /// <summary>Whether the block carries a <c>cache_control</c> marker.</summary>
    public bool HasCacheControl => _element.TryGetProperty("cache_control", out var c) && c.ValueKind == JsonValueKind.Object;

    /// <summary>
    /// A copy with <c>cache_control</c> set to an ephemeral breakpoint (or removed when <paramref name="ttl"/> is null).
    /// The stored block is never changed; breakpoints are a property of one request.
    /// </summary>
    public ContentBlock WithCacheControl(string? ttl)
    {
        return Write(w =>
        {
            foreach (var property in _element.EnumerateObject())
            {
                if (property.NameEquals("cache_control"))
                {
                    continue;
                }
                property.WriteTo(w);
            }
            if (ttl is not null)
            {
                WriteCacheControl(w, ttl);
            }
        });
    }

    /// <summary>Writes a <c>cache_control</c> property: ephemeral, with its TTL unless it is the API's default (5m).</summary>
    internal static void WriteCacheControl(Utf8JsonWriter writer, string ttl)
    {
        writer.WriteStartObject("cache_control");
        writer.WriteString("type", "ephemeral");
        if (ttl != "5m")
        {
            writer.WriteString("ttl", ttl);
        }
        writer.WriteEndObject();
    }

    /// <summary>All text this block carries that a model would read (for token estimates and search).</summary>
    public string ReadableText()
    {
        switch (Type)
        {
            case "text":
                return Text ?? "";
            case "thinking":
                return GetString("thinking") ?? "";
            case "tool_use" or "server_tool_use":
                var use = ToolUse!;
                return use.Name + " " + (use.Input.ValueKind == JsonValueKind.Undefined ? "" : use.Input.GetRawText());
            case "tool_result":
                if (!_element.TryGetProperty("content", out var content))
                {
                    return "";
                }
                if (content.ValueKind == JsonValueKind.String)
                {
                    return content.GetString()!;
                }
                if (content.ValueKind == JsonValueKind.Array)
                {
                    var sb = new StringBuilder();
                    foreach (var inner in content.EnumerateArray())
                    {
                        // Items are read leniently: a token estimate must never fail on content the validator reports.
                        var isBlock = inner.ValueKind == JsonValueKind.Object
                            && inner.TryGetProperty("type", out var innerType) && innerType.ValueKind == JsonValueKind.String;
                        sb.Append(isBlock ? From(inner).ReadableText() : inner.GetRawText()).Append('\n');
                    }
                    return sb.ToString();
                }
                return content.GetRawText();
            case "image":
                return "";
            case "document":
                return _element.TryGetProperty("source", out var source) && source.ValueKind == JsonValueKind.Object
                    && source.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.String
                    && source.TryGetProperty("type", out var st) && st.ValueKind == JsonValueKind.String && st.GetString() == "text"
                    ? data.GetString()!
                    : "";
            default:
                return Json;
        }
    }

    /// <summary>Writes the block's verbatim JSON into a writer.</summary>
    public void WriteTo(Utf8JsonWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteRawValue(Json, skipInputValidation: true);
    }

    /// <inheritdoc />
    public bool Equals(ContentBlock? other) => other is not null && string.Equals(Json, other.Json, StringComparison.Ordinal);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as ContentBlock);

    /// <inheritdoc />
    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(Json);

    /// <inheritdoc />
    public override string ToString() => Json;

    private string? GetString(string name) =>
        _element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static ContentBlock Write(Action<Utf8JsonWriter> body) => Parse(ConversationLedger.Json.Write(w =>
    {
        w.WriteStartObject();
        body(w);
        w.WriteEndObject();
    }));
}

/// <summary>The parts of a tool_use block the ledger needs.</summary>
/// <param name="Id">The tool_use id (toolu_…).</param>
/// <param name="Name">The tool's name.</param>
/// <param name="Input">The tool's input object.</param>
public sealed record ToolUse(string Id, string Name, JsonElement Input);

/// <summary>The parts of a thinking block the ledger needs.</summary>
/// <param name="Text">The thinking text.</param>
/// <param name="Signature">The signature that must be sent back verbatim; null when missing.</param>
public sealed record Thinking(string Text, string? Signature);
