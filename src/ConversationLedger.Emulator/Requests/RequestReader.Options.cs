using System.Text.Json;

namespace ConversationLedger.Emulator;

// The request's other parts: system, tools, thinking, context management.
internal static partial class RequestReader
{
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
