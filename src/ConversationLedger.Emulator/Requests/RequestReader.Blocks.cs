using System.Text.Json;

namespace ConversationLedger.Emulator;

// Messages and content blocks: each checked as the API checks it, with the path of what is wrong.
internal static partial class RequestReader
{
    // The path of the first string (or property name) that is not valid UTF-16 text; null when all are.
    private static string? UnreadableString(JsonElement element, string path)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                return Readable(element) ? null : path;
            case JsonValueKind.Array:
                var i = 0;
                foreach (var item in element.EnumerateArray())
                {
                    if (UnreadableString(item, Join(path, i.ToString(System.Globalization.CultureInfo.InvariantCulture))) is { } found)
                    {
                        return found;
                    }
                    i++;
                }
                return null;
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    string name;
                    try
                    {
                        name = property.Name;
                    }
                    catch (InvalidOperationException)
                    {
                        return path;
                    }
                    if (UnreadableString(property.Value, Join(path, name)) is { } found)
                    {
                        return found;
                    }
                }
                return null;
            default:
                return null;
        }
    }

    private static string Join(string path, string part) => path.Length == 0 ? part : path + "." + part;

    private static bool Readable(JsonElement element)
    {
        try
        {
            element.GetString();
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>
    /// The TTL of a <c>cache_control</c> object ("5m" or "1h"); null with an error when it is malformed.
    /// </summary>
    public static string? ReadCacheControl(JsonElement cacheControl, string path, out ApiError? error)
    {
        error = null;
        if (cacheControl.ValueKind != JsonValueKind.Object)
        {
            error = ApiErrors.WrongType(path, "a valid dictionary");
            return null;
        }
        if (!cacheControl.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String || type.GetString() != "ephemeral")
        {
            error = cacheControl.TryGetProperty("type", out _) ? ApiErrors.WrongType($"{path}.type", "'ephemeral'") : ApiErrors.FieldRequired($"{path}.type");
            return null;
        }
        if (!cacheControl.TryGetProperty("ttl", out var ttl))
        {
            return "5m";
        }
        if (ttl.ValueKind != JsonValueKind.String || ttl.GetString() is not ("5m" or "1h"))
        {
            error = ApiErrors.WrongType($"{path}.ttl", "'5m' or '1h'");
            return null;
        }
        return ttl.GetString();
    }

    /// <summary>The TTL of a block's or tool's <c>cache_control</c>, or null when it has none (or it is JSON null).</summary>
    public static string? BreakpointTtl(JsonElement element) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty("cache_control", out var cc) && cc.ValueKind == JsonValueKind.Object
            ? ReadCacheControl(cc, "cache_control", out _)
            : null;

    private static Message? ReadMessage(JsonElement m, string path, out ApiError? error)
    {
        error = null;
        if (m.ValueKind != JsonValueKind.Object)
        {
            error = ApiErrors.WrongType(path, "a valid dictionary");
            return null;
        }
        foreach (var property in m.EnumerateObject())
        {
            if (property.Name is not ("role" or "content"))
            {
                error = ApiErrors.ExtraInput($"{path}.{property.Name}");
                return null;
            }
        }
        if (!m.TryGetProperty("role", out var role))
        {
            error = ApiErrors.FieldRequired($"{path}.role");
            return null;
        }
        if (role.ValueKind != JsonValueKind.String)
        {
            error = ApiErrors.WrongType($"{path}.role", "a valid string");
            return null;
        }
        if (!m.TryGetProperty("content", out var content))
        {
            error = ApiErrors.FieldRequired($"{path}.content");
            return null;
        }
        List<ContentBlock> blocks;
        if (content.ValueKind == JsonValueKind.String)
        {
            blocks = [ContentBlock.CreateText(content.GetString()!)];
        }
        else if (content.ValueKind == JsonValueKind.Array)
        {
            blocks = new List<ContentBlock>(content.GetArrayLength());
            var k = 0;
            foreach (var b in content.EnumerateArray())
            {
                error = CheckBlock(b, $"{path}.content.{k}");
                if (error is not null)
                {
                    return null;
                }
                blocks.Add(ContentBlock.From(b));
                k++;
            }
        }
        else
        {
            error = ApiErrors.WrongType($"{path}.content", "a valid string or a valid list");
            return null;
        }
        return new Message(new Role(role.GetString()!), blocks);
    }

    private static ApiError? CheckBlock(JsonElement b, string path)
    {
        if (b.ValueKind != JsonValueKind.Object)
        {
            return ApiErrors.WrongType(path, "a valid dictionary");
        }
        if (!b.TryGetProperty("type", out var type))
        {
            return ApiErrors.FieldRequired($"{path}.type");
        }
        if (type.ValueKind != JsonValueKind.String)
        {
            return ApiErrors.WrongType($"{path}.type", "a valid string");
        }
        var t = type.GetString()!;
        // The API's paths for block fields name the block type (pydantic's tagged union), e.g. messages.0.content.0.text.text.
        ApiError? Require(string field, JsonValueKind kind, string expected)
        {
            if (!b.TryGetProperty(field, out var v))
            {
                return ApiErrors.FieldRequired($"{path}.{t}.{field}");
            }
            return v.ValueKind == kind ? null : ApiErrors.WrongType($"{path}.{t}.{field}", expected);
        }
        var problem = t switch
        {
            "text" => Require("text", JsonValueKind.String, "a valid string"),
            "tool_use" => Require("id", JsonValueKind.String, "a valid string")
                ?? Require("name", JsonValueKind.String, "a valid string")
                ?? Require("input", JsonValueKind.Object, "a valid dictionary"),
            "tool_result" => Require("tool_use_id", JsonValueKind.String, "a valid string"),
            "thinking" => Require("thinking", JsonValueKind.String, "a valid string"),
            "redacted_thinking" => Require("data", JsonValueKind.String, "a valid string"),
            "image" or "document" => Require("source", JsonValueKind.Object, "a valid dictionary"),
            _ => null,
        };
        if (problem is not null)
        {
            return problem;
        }
        if (t == "thinking" && b.TryGetProperty("signature", out var sig) && sig.ValueKind != JsonValueKind.String)
        {
            return ApiErrors.WrongType($"{path}.thinking.signature", "a valid string");
        }
        if (t == "tool_result" && b.TryGetProperty("content", out var c))
        {
            if (c.ValueKind is not (JsonValueKind.String or JsonValueKind.Array))
            {
                return ApiErrors.WrongType($"{path}.tool_result.content", "a valid string or a valid list");
            }
            if (c.ValueKind == JsonValueKind.Array)
            {
                var j = 0;
                foreach (var inner in c.EnumerateArray())
                {
                    if (CheckBlock(inner, $"{path}.tool_result.content.{j}") is { } innerProblem)
                    {
                        return innerProblem;
                    }
                    j++;
                }
            }
        }
        if (t is "image" or "document" && CheckSource(b.GetProperty("source"), $"{path}.{t}.source") is { } sourceProblem)
        {
            return sourceProblem;
        }
        if (b.TryGetProperty("cache_control", out var cc) && cc.ValueKind != JsonValueKind.Null)
        {
            ReadCacheControl(cc, $"{path}.{t}.cache_control", out var ccError);
            return ccError;
        }
        return null;
    }

    // The source of an image or document: its type decides which other fields must be strings.
    private static ApiError? CheckSource(JsonElement source, string path)
    {
        if (!source.TryGetProperty("type", out var type))
        {
            return ApiErrors.FieldRequired($"{path}.type");
        }
        if (type.ValueKind != JsonValueKind.String)
        {
            return ApiErrors.WrongType($"{path}.type", "a valid string");
        }
        string[] required = type.GetString() switch
        {
            "base64" => ["media_type", "data"],
            "text" => ["media_type", "data"],
            "url" => ["url"],
            "file" => ["file_id"],
            _ => [],
        };
        foreach (var field in required)
        {
            if (!source.TryGetProperty(field, out var value))
            {
                return ApiErrors.FieldRequired($"{path}.{type.GetString()}.{field}");
            }
            if (value.ValueKind != JsonValueKind.String)
            {
                return ApiErrors.WrongType($"{path}.{type.GetString()}.{field}", "a valid string");
            }
        }
        if (type.GetString() == "content" && source.TryGetProperty("content", out var content)
            && content.ValueKind is not (JsonValueKind.String or JsonValueKind.Array))
        {
            return ApiErrors.WrongType($"{path}.content.content", "a valid string or a valid list");
        }
        if (type.GetString() == "base64" && !IsBase64(source.GetProperty("data").GetString()!))
        {
            // The API decodes the data; what does not decode is refused, not passed to the model.
            return ApiErrors.BadRequest($"{path}.base64.data: Invalid base64 data");
        }
        return null;
    }

    private static bool IsBase64(string data)
    {
        var buffer = data.Length <= 1024 ? stackalloc byte[data.Length] : new byte[data.Length];
        return data.Length > 0 && Convert.TryFromBase64String(data, buffer, out _);
    }
}
