using System.Text.Json;

namespace ConversationLedger.Emulator;

/// <summary>Which endpoint a body is for: they accept different top-level fields.</summary>
internal enum RequestKind
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
internal static partial class RequestReader
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
}
