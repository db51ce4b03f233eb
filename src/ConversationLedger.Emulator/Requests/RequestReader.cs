using System.Text.Json;

namespace ConversationLedger.Emulator;

/// <summary>Which endpoint a body is for: they accept different top-level fields.</summary>
public enum RequestKind
{
    /// <summary><c>POST /v1/messages</c>.</summary>
    Messages,

    /// <summary><c>POST /v1/messages/count_tokens</c> (no max_tokens, stream, metadata or stop_sequences).</summary>
    CountTokens,
}

/// <summary>
/// Reads a request body and checks its shape the way the API's schema does (required fields, JSON types,
/// unknown fields), before the conversation rules of <see cref="ConversationValidator"/> apply.
/// Never throws on hostile input: every problem becomes an <see cref="ApiError"/>. Stateless and thread-safe.
/// </summary>
public static class RequestReader
{
    private static readonly HashSet<string> MessagesFields = new(StringComparer.Ordinal)
    {
        "model", "max_tokens", "messages", "system", "tools", "tool_choice", "thinking", "stream", "metadata",
        "stop_sequences", "cache_control", "service_tier", "container", "context_management", "mcp_servers", "output_config",
        "inference_geo", "speed", "diagnostics", "user_profile_id",
    };

    private static readonly HashSet<string> CountTokensFields = new(StringComparer.Ordinal)
    {
        "model", "messages", "system", "tools", "tool_choice", "thinking", "cache_control", "context_management", "mcp_servers", "output_config",
        "speed",
    };

    private static readonly HashSet<string> SamplingFields = new(StringComparer.Ordinal) { "temperature", "top_p", "top_k" };

    /// <summary>The most messages one request may carry.</summary>
    public const int MaxMessages = 100_000;

    /// <summary>The API version from which temperature, top_p and top_k are rejected.</summary>
    public const string SamplingRemovedInVersion = "2026-10-21";

    /// <summary>Parses and shape-checks a body. Returns the request, or the first error as the API would word it.</summary>
    /// <param name="body">The raw body.</param>
    /// <param name="kind">Which endpoint the body was sent to.</param>
    /// <param name="anthropicVersion">The <c>anthropic-version</c> header; older versions still take sampling parameters.</param>
    /// <param name="error">The first problem found, when the result is null.</param>
    public static ParsedRequest? Read(ReadOnlyMemory<byte> body, RequestKind kind, string? anthropicVersion, out ApiError? error)
    {
        error = null;
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException ex)
        {
            error = ApiErrors.InvalidJson(ex.Message);
            return null;
        }
        using (document)
        {
            if (UnreadableString(document.RootElement, "") is { } at)
            {
                // Unpaired surrogates parse as JSON but are not text; reading them later would throw.
                error = ApiErrors.WrongType(at.Length == 0 ? "body" : at, "a valid string (it holds an unpaired surrogate)");
                return null;
            }
            try
            {
                return ReadRoot(document.RootElement, kind, anthropicVersion, out error);
            }
            catch (LedgerException ex)
            {
                // The core model types reject shapes the checks above missed; still a 400, never a 500.
                error = ApiErrors.BadRequest(ex.Message);
                return null;
            }
        }
    }

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

    private static ParsedRequest? ReadRoot(JsonElement root, RequestKind kind, string? version, out ApiError? error)
    {
        error = null;
        if (root.ValueKind != JsonValueKind.Object)
        {
            error = ApiErrors.BadRequest("The request body must be a JSON object.");
            return null;
        }
        var allowed = kind == RequestKind.Messages ? MessagesFields : CountTokensFields;
        var samplingAllowed = kind == RequestKind.Messages && version is not null
            && string.CompareOrdinal(version, SamplingRemovedInVersion) < 0;
        foreach (var property in root.EnumerateObject())
        {
            if (allowed.Contains(property.Name) || (samplingAllowed && SamplingFields.Contains(property.Name)))
            {
                continue;
            }
            error = SamplingFields.Contains(property.Name) && kind == RequestKind.Messages
                ? ApiErrors.SamplingParameterRemoved(property.Name)
                : ApiErrors.ExtraInput(property.Name);
            return null;
        }

        if (!root.TryGetProperty("model", out var modelElement))
        {
            error = ApiErrors.FieldRequired("model");
            return null;
        }
        if (modelElement.ValueKind != JsonValueKind.String)
        {
            error = ApiErrors.WrongType("model", "a valid string");
            return null;
        }

        var maxTokens = 0;
        if (kind == RequestKind.Messages)
        {
            if (!root.TryGetProperty("max_tokens", out var mt))
            {
                error = ApiErrors.FieldRequired("max_tokens");
                return null;
            }
            if (mt.ValueKind != JsonValueKind.Number || !mt.TryGetInt64(out var max))
            {
                error = ApiErrors.WrongType("max_tokens", "a valid integer");
                return null;
            }
            if (max < 0)
            {
                error = ApiErrors.WrongType("max_tokens", "greater than or equal to 0");
                return null;
            }
            // Over the model's limit is reported later with the model's name; clamp only to keep the int.
            maxTokens = (int)Math.Min(max, int.MaxValue);
        }

        if (!root.TryGetProperty("messages", out var messagesElement))
        {
            error = ApiErrors.FieldRequired("messages");
            return null;
        }
        if (messagesElement.ValueKind != JsonValueKind.Array)
        {
            error = ApiErrors.WrongType("messages", "a valid list");
            return null;
        }
        if (messagesElement.GetArrayLength() > MaxMessages)
        {
            error = ApiErrors.BadRequest($"messages: too many messages ({messagesElement.GetArrayLength()} > {MaxMessages} maximum)");
            return null;
        }
        var messages = new List<Message>(messagesElement.GetArrayLength());
        var n = 0;
        foreach (var m in messagesElement.EnumerateArray())
        {
            var message = ReadMessage(m, $"messages.{n}", out error);
            if (message is null)
            {
                return null;
            }
            messages.Add(message);
            n++;
        }

        var system = ReadSystem(root, out error);
        if (system is null)
        {
            return null;
        }
        var tools = ReadTools(root, out error);
        if (tools is null)
        {
            return null;
        }

        var stream = false;
        if (root.TryGetProperty("stream", out var s))
        {
            if (s.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            {
                error = ApiErrors.WrongType("stream", "a valid boolean");
                return null;
            }
            stream = s.GetBoolean();
        }
        foreach (var name in (string[])["metadata", "tool_choice", "container", "context_management", "output_config"])
        {
            if (root.TryGetProperty(name, out var o) && o.ValueKind is not (JsonValueKind.Object or JsonValueKind.Null)
                && !(name == "container" && o.ValueKind == JsonValueKind.String))
            {
                error = ApiErrors.WrongType(name, "a valid dictionary");
                return null;
            }
        }
        var stopSequences = new List<string>();
        if (root.TryGetProperty("stop_sequences", out var ss))
        {
            if (ss.ValueKind != JsonValueKind.Array)
            {
                error = ApiErrors.WrongType("stop_sequences", "a valid list");
                return null;
            }
            var i = 0;
            foreach (var item in ss.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.String)
                {
                    error = ApiErrors.WrongType($"stop_sequences.{i}", "a valid string");
                    return null;
                }
                stopSequences.Add(item.GetString()!);
                i++;
            }
        }

        JsonElement? thinking = null;
        if (root.TryGetProperty("thinking", out var th))
        {
            error = CheckThinking(th, kind, maxTokens);
            if (error is not null)
            {
                return null;
            }
            thinking = th.Clone();
        }
        if (root.TryGetProperty("output_config", out var oc) && oc.ValueKind == JsonValueKind.Object
            && oc.TryGetProperty("effort", out var effort) && effort.ValueKind != JsonValueKind.String)
        {
            // Which levels a model takes is the model table's business (ModelRules); the shape is checked here.
            error = ApiErrors.WrongType("output_config.effort", "a valid string");
            return null;
        }
        if (root.TryGetProperty("context_management", out var cm) && CheckContextManagement(cm) is { } cmError)
        {
            error = cmError;
            return null;
        }
        var sampling = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var name in SamplingFields)
        {
            if (!root.TryGetProperty(name, out var value))
            {
                continue;
            }
            if (value.ValueKind != JsonValueKind.Number)
            {
                error = ApiErrors.WrongType(name, name == "top_k" ? "a valid integer" : "a valid number");
                return null;
            }
            var number = value.GetDouble();
            if (number < 0 || (name != "top_k" && number > 1))
            {
                error = ApiErrors.WrongType(name, number < 0 ? "greater than or equal to 0" : "less than or equal to 1");
                return null;
            }
            sampling[name] = number;
        }

        string? automaticTtl = null;
        if (root.TryGetProperty("cache_control", out var cc))
        {
            automaticTtl = ReadCacheControl(cc, "cache_control", out error);
            if (error is not null)
            {
                return null;
            }
        }

        return new ParsedRequest
        {
            Request = new ModelRequest
            {
                Model = modelElement.GetString()!,
                MaxTokens = maxTokens,
                System = system,
                Messages = messages,
                Tools = tools.Count > 0 ? root.GetProperty("tools").Clone() : null,
                ToolChoice = root.TryGetProperty("tool_choice", out var toolChoice) && toolChoice.ValueKind == JsonValueKind.Object ? toolChoice.Clone() : null,
                Thinking = thinking,
                OutputConfig = root.TryGetProperty("output_config", out var outputConfig) && outputConfig.ValueKind == JsonValueKind.Object ? outputConfig.Clone() : null,
                StopSequences = stopSequences,
                AutomaticCacheTtl = automaticTtl,
            },
            Stream = stream,
            Tools = tools,
            Sampling = sampling,
        };
    }

    /// <summary>The server-side context edits the API knows; what they do is not emulated (see the emulator's README).</summary>
    public static readonly IReadOnlyList<string> ContextEdits = ["clear_tool_uses_20250919", "clear_thinking_20251015", "compact_20260112"];

    private static ApiError? CheckContextManagement(JsonElement cm)
    {
        if (cm.ValueKind != JsonValueKind.Object || !cm.TryGetProperty("edits", out var edits))
        {
            return null; // a null or an object without edits changes nothing
        }
        if (edits.ValueKind != JsonValueKind.Array)
        {
            return ApiErrors.WrongType("context_management.edits", "a valid list");
        }
        var i = 0;
        foreach (var edit in edits.EnumerateArray())
        {
            if (edit.ValueKind != JsonValueKind.Object || !edit.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String
                || !ContextEdits.Contains(type.GetString()))
            {
                return ApiErrors.WrongType($"context_management.edits.{i}.type",
                    string.Join(", ", ContextEdits.SkipLast(1).Select(e => $"'{e}'")) + $" or '{ContextEdits[^1]}'");
            }
            i++;
        }
        return null;
    }

    // The thinking object's shape: its type, a manual budget's size, an adaptive display. Whether the model takes the type
    // is the model table's business (ModelRules).
    private static ApiError? CheckThinking(JsonElement th, RequestKind kind, int maxTokens)
    {
        if (th.ValueKind != JsonValueKind.Object)
        {
            return ApiErrors.WrongType("thinking", "a valid dictionary");
        }
        if (!th.TryGetProperty("type", out var thType))
        {
            return ApiErrors.FieldRequired("thinking.type");
        }
        var type = thType.ValueKind == JsonValueKind.String ? thType.GetString() : null;
        switch (type)
        {
            case "enabled":
                if (!th.TryGetProperty("budget_tokens", out var budget) || budget.ValueKind != JsonValueKind.Number || !budget.TryGetInt64(out var b))
                {
                    return th.TryGetProperty("budget_tokens", out _) ? ApiErrors.WrongType("thinking.enabled.budget_tokens", "a valid integer")
                        : ApiErrors.FieldRequired("thinking.enabled.budget_tokens");
                }
                if (b < 1024)
                {
                    return ApiErrors.WrongType("thinking.enabled.budget_tokens", "greater than or equal to 1024");
                }
                return kind == RequestKind.Messages && b >= maxTokens
                    ? ApiErrors.BadRequest("`max_tokens` must be greater than `thinking.budget_tokens`.")
                    : null;
            case "adaptive":
                return th.TryGetProperty("display", out var display)
                    && !(display.ValueKind == JsonValueKind.String && display.GetString() is "summarized" or "omitted")
                    ? ApiErrors.WrongType("thinking.adaptive.display", "'summarized' or 'omitted'")
                    : null;
            case "disabled" or "between_tools":
                return null;
            default:
                return ApiErrors.WrongType("thinking.type", "'enabled', 'disabled', 'adaptive' or 'between_tools'");
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

    private static List<ContentBlock>? ReadSystem(JsonElement root, out ApiError? error)
    {
        error = null;
        if (!root.TryGetProperty("system", out var system) || system.ValueKind == JsonValueKind.Null)
        {
            return [];
        }
        if (system.ValueKind == JsonValueKind.String)
        {
            var text = system.GetString()!;
            return text.Length == 0 ? [] : [ContentBlock.CreateText(text)];
        }
        if (system.ValueKind != JsonValueKind.Array)
        {
            error = ApiErrors.WrongType("system", "a valid string or a valid list");
            return null;
        }
        var blocks = new List<ContentBlock>();
        var k = 0;
        foreach (var b in system.EnumerateArray())
        {
            var path = $"system.{k}";
            // The API's system takes text blocks only: another type is refused as such, before any of its own fields.
            error = b.ValueKind == JsonValueKind.Object && b.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String
                && type.GetString() != "text"
                ? ApiErrors.WrongType($"{path}.type", "'text'")
                : CheckBlock(b, path);
            if (error is not null)
            {
                return null;
            }
            var text = b.GetProperty("text").GetString()!;
            if (string.IsNullOrWhiteSpace(text))
            {
                error = ApiErrors.BadRequest(text.Length == 0
                    ? "system: text content blocks must be non-empty"
                    : "system: text content blocks must contain non-whitespace text");
                return null;
            }
            blocks.Add(ContentBlock.From(b));
            k++;
        }
        return blocks;
    }

    private static List<JsonElement>? ReadTools(JsonElement root, out ApiError? error)
    {
        error = null;
        if (!root.TryGetProperty("tools", out var tools) || tools.ValueKind == JsonValueKind.Null)
        {
            return [];
        }
        if (tools.ValueKind != JsonValueKind.Array)
        {
            error = ApiErrors.WrongType("tools", "a valid list");
            return null;
        }
        var list = new List<JsonElement>();
        var i = 0;
        foreach (var tool in tools.EnumerateArray())
        {
            if (tool.ValueKind != JsonValueKind.Object)
            {
                error = ApiErrors.WrongType($"tools.{i}", "a valid dictionary");
                return null;
            }
            if (!tool.TryGetProperty("name", out var name))
            {
                error = ApiErrors.FieldRequired($"tools.{i}.name");
                return null;
            }
            if (name.ValueKind != JsonValueKind.String)
            {
                error = ApiErrors.WrongType($"tools.{i}.name", "a valid string");
                return null;
            }
            if (tool.TryGetProperty("cache_control", out var cc) && cc.ValueKind != JsonValueKind.Null)
            {
                ReadCacheControl(cc, $"tools.{i}.cache_control", out error);
                if (error is not null)
                {
                    return null;
                }
            }
            list.Add(tool.Clone());
            i++;
        }
        return list;
    }
}
