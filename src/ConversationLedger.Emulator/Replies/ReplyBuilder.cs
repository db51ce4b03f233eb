using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace ConversationLedger.Emulator;

/// <summary>
/// Makes the reply to a request: the next scripted reply if one is queued, otherwise a deterministic text that
/// shows what the emulator received (message count, input tokens, earliest and latest user text), so a client
/// that forgets history is visible. Stateless and thread-safe.
/// </summary>
internal static partial class ReplyBuilder
{
    /// <summary>How much of the earliest and latest user text the default reply quotes.</summary>
    public const int QuoteLength = 60;

    /// <summary>The largest amount of padding a request can ask for ("write 500 words").</summary>
    public const int MaxPadding = 20_000;

    private static readonly string[] Filler =
        ["lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "sed", "do", "eiusmod", "tempor"];

    /// <summary>The reply of <paramref name="model"/> to a request whose prompt has <paramref name="inputTokens"/> tokens.</summary>
    public static Reply Build(ParsedRequest parsed, ModelInfo model, long inputTokens, ScriptedReply? scripted)
    {
        ArgumentNullException.ThrowIfNull(parsed);
        ArgumentNullException.ThrowIfNull(model);
        var request = parsed.Request;
        if (scripted is not null)
        {
            // A script says what the model answers; a model that thinks first opens it with its own signed thinking,
            // unless the script brings thinking of its own.
            IReadOnlyList<ContentBlock> content = Thinks(parsed, model) && !scripted.Content.Any(b => b.IsThinking)
                ? [Thinking(parsed, model), .. scripted.Content]
                : scripted.Content;
            return new Reply(content, scripted.EffectiveStopReason, scripted.StopSequence,
                BlockTokens.Of(content), BlockTokens.Of(content.Where(b => b.IsThinking)));
        }
        if (request.MaxTokens == 0)
        {
            // max_tokens 0 warms the cache without generating.
            return new Reply([], "max_tokens", null, 0, 0);
        }

        var blocks = new List<ContentBlock>();
        long budget = request.MaxTokens;
        if (Thinks(parsed, model))
        {
            var thinking = Thinking(parsed, model);
            blocks.Add(thinking);
            budget -= BlockTokens.Of(thinking);
        }

        if (ForcedTool(parsed) is { } tool)
        {
            // tool_choice "any" or "tool" obliges the model to call a tool; the emulator calls it with no arguments.
            blocks.Add(Block(w =>
            {
                w.WriteString("type", "tool_use");
                w.WriteString("id", "toolu_" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(request.ToJson())))[..24]);
                w.WriteString("name", tool);
                w.WriteStartObject("input");
                w.WriteEndObject();
            }));
            return new Reply(blocks, "tool_use", null, BlockTokens.Of(blocks), BlockTokens.Of(blocks.Where(b => b.IsThinking)));
        }

        var text = DefaultText(request, inputTokens);
        string stopReason = "end_turn";
        string? stopSequence = null;
        foreach (var sequence in request.StopSequences.Where(s => s.Length > 0))
        {
            var at = text.IndexOf(sequence, StringComparison.Ordinal);
            if (at >= 0 && (stopSequence is null || at < text.IndexOf(stopSequence, StringComparison.Ordinal)))
            {
                stopSequence = sequence;
            }
        }
        if (stopSequence is not null)
        {
            text = text[..text.IndexOf(stopSequence, StringComparison.Ordinal)];
            stopReason = "stop_sequence";
        }

        // One token of framing per block, as the counter charges it.
        var textBudget = budget - 1;
        if (O200kTokenCounter.CountText(text) > textBudget)
        {
            text = textBudget > 0 ? Truncate(text, (int)textBudget) : "";
            stopReason = "max_tokens";
            stopSequence = null;
        }
        if (text.Length > 0)
        {
            blocks.Add(Block(w =>
            {
                w.WriteString("type", "text");
                w.WriteString("text", text);
            }));
        }
        return new Reply(blocks, stopReason, stopSequence, BlockTokens.Of(blocks), BlockTokens.Of(blocks.Where(b => b.IsThinking)));
    }

    // Thinking opens the reply when the model thinks up front; between_tools thinks only after tool results.
    private static bool Thinks(ParsedRequest parsed, ModelInfo model) =>
        RequestRules.ThinksFirst(parsed, model)
        || (parsed.ThinkingType == "between_tools" && parsed.Request.Messages.Last(m => m.Role != Role.System).Content.Any(b => b.Type == "tool_result"));

    // A signed thinking block; an omitted display returns it with empty text (the signature still carries the reasoning).
    private static ContentBlock Thinking(ParsedRequest parsed, ModelInfo model)
    {
        var request = parsed.Request;
        var thought = parsed.ThinkingDisplay(model) == "omitted" ? "" : $"[emulator] Thinking about {Plural(request.Messages.Count, "message")}.";
        return Block(w =>
        {
            w.WriteString("type", "thinking");
            w.WriteString("thinking", thought);
            w.WriteString("signature", ThinkingSignatures.Sign(parsed, request.Messages.Count, thought));
        });
    }

    /// <summary>The default text for a request: what the emulator can see, plus any padding the latest user text asks for.</summary>
    public static string DefaultText(ModelRequest request, long inputTokens)
    {
        ArgumentNullException.ThrowIfNull(request);
        var userTexts = request.Messages.Where(m => m.Role == Role.User)
            .SelectMany(m => m.Content).Select(b => b.Text).Where(t => !string.IsNullOrWhiteSpace(t)).ToList();
        var earliest = userTexts.Count > 0 ? Quote(userTexts[0]!) : "none";
        var latest = userTexts.Count > 0 ? Quote(userTexts[^1]!) : "none";
        var text = string.Create(CultureInfo.InvariantCulture,
            $"[emulator] I can see {Plural(request.Messages.Count, "message")} ({Plural(inputTokens, "input token")}). Earliest user text: {earliest}. Latest: {latest}.");
        return userTexts.Count > 0 ? Pad(text, userTexts[^1]!) : text;
    }

    private static string Pad(string text, string latestUserText)
    {
        var match = PaddingRequest().Match(latestUserText);
        if (!match.Success || !int.TryParse(match.Groups[1].Value, CultureInfo.InvariantCulture, out var wanted))
        {
            return text;
        }
        wanted = Math.Min(wanted, MaxPadding);
        var byTokens = match.Groups[2].Value.StartsWith("token", StringComparison.OrdinalIgnoreCase);
        var sb = new StringBuilder(text);
        var have = byTokens ? O200kTokenCounter.CountText(text) : CountWords(text);
        for (var i = 0; have < wanted; i++)
        {
            var word = " " + Filler[i % Filler.Length];
            sb.Append(word);
            have += byTokens ? O200kTokenCounter.CountText(word) : 1;
        }
        return sb.ToString();
    }

    private static string? ForcedTool(ParsedRequest parsed)
    {
        if (parsed.Request.ToolChoice is not { ValueKind: System.Text.Json.JsonValueKind.Object } choice
            || !choice.TryGetProperty("type", out var type) || type.ValueKind != System.Text.Json.JsonValueKind.String)
        {
            return null;
        }
        return type.GetString() switch
        {
            "tool" when choice.TryGetProperty("name", out var name) && name.ValueKind == System.Text.Json.JsonValueKind.String => name.GetString(),
            "any" when parsed.Tools.Count > 0 => parsed.Tools[0].GetProperty("name").GetString(),
            _ => null,
        };
    }

    private static int CountWords(string text) => text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;

    private static string Truncate(string text, int maxTokens)
    {
        // The longest prefix within the budget, found by bisection on its token count.
        int low = 0, high = text.Length;
        while (low < high)
        {
            var mid = (low + high + 1) / 2;
            if (O200kTokenCounter.CountText(text[..mid]) <= maxTokens)
            {
                low = mid;
            }
            else
            {
                high = mid - 1;
            }
        }
        if (low > 0 && char.IsHighSurrogate(text[low - 1]))
        {
            low--;
        }
        return text[..low];
    }

    private static string Quote(string text)
    {
        var flat = string.Join(' ', text.Split((char[])['\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries)).Trim();
        if (flat.Length > QuoteLength)
        {
            var cut = char.IsHighSurrogate(flat[QuoteLength - 1]) ? QuoteLength - 1 : QuoteLength;
            flat = string.Concat(flat.AsSpan(0, cut), "…");
        }
        return "\"" + flat + "\"";
    }

    // Written with the API's relaxed escaping (quotes stay quotes), unlike the core's strict writer.
    private static ContentBlock Block(Action<System.Text.Json.Utf8JsonWriter> fields) => ContentBlock.Parse(ResponseJson.Write(w =>
    {
        w.WriteStartObject();
        fields(w);
        w.WriteEndObject();
    }));

    private static string Plural(long count, string noun) =>
        string.Create(CultureInfo.InvariantCulture, $"{count} {noun}{(count == 1 ? "" : "s")}");

    [GeneratedRegex(@"\b(\d{1,6})\s+(words?|tokens?)\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex PaddingRequest();
}
