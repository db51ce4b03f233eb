using System.Text.Json;
using Anthropic.Core;
using ConversationLedger;
using Microsoft.Extensions.AI;
using Sdk = Anthropic.Models.Messages;

namespace ConversationLedger.Extensions.AI;

/// <summary>Between the ledger's Anthropic-native messages and Microsoft.Extensions.AI's chat messages.</summary>
public static class ChatConversion
{
    /// <summary>
    /// The new messages of a call as one user message (tool results and user text together, as the API takes them), and
    /// the text of any system messages among them (sent as instructions, not stored).
    /// </summary>
    /// <exception cref="ArgumentException">There is no user content, or an assistant message is among the new messages.</exception>
    public static (Message User, string? Instructions) ToUserMessage(IEnumerable<ChatMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var blocks = new List<ContentBlock>();
        var instructions = new List<string>();
        foreach (var message in messages)
        {
            if (message.Role == ChatRole.System)
            {
                instructions.Add(message.Text);
                continue;
            }
            if (message.Role == ChatRole.Assistant)
            {
                throw new ArgumentException(
                    "with a ConversationId, send only the new user message or tool results: the ledger keeps the replies", nameof(messages));
            }
            blocks.AddRange(message.Contents.Select(ToBlock).OfType<ContentBlock>());
        }
        if (blocks.Count == 0)
        {
            throw new ArgumentException("there is no user content to send", nameof(messages));
        }
        return (new Message(Role.User, blocks), instructions.Count == 0 ? null : string.Join("\n", instructions));
    }

    /// <summary>One chat message as a ledger message (assistant for assistant, user for user and tool results).</summary>
    public static Message ToLedgerMessage(ChatMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var role = message.Role == ChatRole.Assistant ? Role.Assistant : message.Role == ChatRole.System ? Role.System : Role.User;
        return new Message(role, message.Contents.Select(ToBlock).OfType<ContentBlock>().ToArray());
    }

    /// <summary>A prepared request's system prompt and messages as chat messages, each content carrying the SDK block it came from.</summary>
    public static List<ChatMessage> ToChatMessages(ModelRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var result = new List<ChatMessage>();
        if (request.System.Count > 0)
        {
            result.Add(new ChatMessage(ChatRole.System, request.System.Select(b => (AIContent)new TextContent(b.Text ?? b.ReadableText())
            {
                RawRepresentation = Deserialize<Sdk::TextBlockParam>(b.Json),
            }).ToList()));
        }
        foreach (var message in request.Messages)
        {
            var role = message.Role == Role.Assistant ? ChatRole.Assistant
                : message.Role == Role.System ? ChatRole.System
                : message.Content.All(b => b.Type == "tool_result") ? ChatRole.Tool
                : ChatRole.User;
            var contents = message.Content.Select(ToContent).ToList();
            result.Add(new ChatMessage(role, contents) { RawRepresentation = message });
        }
        return result;
    }

    /// <summary>A chat response as the ledger stores a reply: from the Anthropic SDK's raw message when there is one, else from the typed contents.</summary>
    public static ModelResponse ToModelResponse(ChatResponse response, string requestedModel)
    {
        ArgumentNullException.ThrowIfNull(response);
        if (response.RawRepresentation is Sdk::Message raw)
        {
            // Verbatim: every block as the API returned it, usage with its cache figures.
            var json = JsonSerializer.SerializeToElement(raw.RawData);
            var content = json.GetProperty("content").EnumerateArray().Select(ContentBlock.From).ToArray();
            return new ModelResponse(raw.ID, json.TryGetProperty("model", out var model) ? model.GetString() ?? requestedModel : requestedModel, new Message(Role.Assistant, content),
                json.TryGetProperty("stop_reason", out var stop) && stop.ValueKind == JsonValueKind.String ? stop.GetString() : null,
                TokenUsage.Parse(json.TryGetProperty("usage", out var usage) ? usage : default), null);
        }
        var blocks = response.Messages
            .Where(m => m.Role == ChatRole.Assistant)
            .SelectMany(m => m.Contents)
            .Select(ToBlock)
            .OfType<ContentBlock>()
            .ToArray();
        var tokens = response.Usage is { } u
            ? new TokenUsage
            {
                InputTokens = Math.Max(0, (u.InputTokenCount ?? 0) - (u.CachedInputTokenCount ?? 0)),
                CacheReadInputTokens = u.CachedInputTokenCount ?? 0,
                OutputTokens = u.OutputTokenCount ?? 0,
            }
            : new TokenUsage();
        return new ModelResponse(response.ResponseId ?? "", response.ModelId ?? requestedModel, new Message(Role.Assistant, blocks),
            StopReason(response.FinishReason), tokens, null);
    }

    private static string? StopReason(ChatFinishReason? reason) =>
        reason is null ? null
        : reason == ChatFinishReason.Stop ? "end_turn"
        : reason == ChatFinishReason.ToolCalls ? "tool_use"
        : reason == ChatFinishReason.Length ? "max_tokens"
        : reason == ChatFinishReason.ContentFilter ? "refusal"
        : reason.Value.Value;

    private static AIContent ToContent(ContentBlock block)
    {
        AIContent content = block.Type switch
        {
            "text" => new TextContent(block.Text),
            "thinking" => new TextReasoningContent(block.Thinking!.Text) { ProtectedData = block.Thinking.Signature },
            "redacted_thinking" => new TextReasoningContent("") { ProtectedData = String(block, "data") },
            "tool_use" when block.ToolUse is { } call => new FunctionCallContent(call.Id, call.Name, Arguments(block)),
            "tool_result" => new FunctionResultContent(block.ToolResultFor ?? "", block.ReadableText()),
            _ => new AIContent(),
        };
        // Anthropic's IChatClient sends a content whose raw representation is an SDK block as that block, verbatim.
        content.RawRepresentation = Deserialize<Sdk::ContentBlockParam>(block.Json);
        (content.AdditionalProperties ??= [])["anthropic:block"] = block.Json;
        return content;
    }

    private static ContentBlock? ToBlock(AIContent content)
    {
        if (content.AdditionalProperties?.TryGetValue("anthropic:block", out var stored) == true && stored is string json)
        {
            return ContentBlock.Parse(json);
        }
        if (content.RawRepresentation is JsonModel raw && raw is not (Sdk::TextDelta or Sdk::ThinkingDelta or Sdk::SignatureDelta or Sdk::InputJsonDelta or Sdk::CitationsDelta))
        {
            // A whole SDK block (Anthropic's client keeps the block a content came from): kept as the API gave it.
            return ContentBlock.From(JsonSerializer.SerializeToElement(raw.RawData));
        }
        return content switch
        {
            TextContent { Text: { Length: > 0 } text } => ContentBlock.CreateText(text),
            TextReasoningContent { Text: { Length: > 0 } text } reasoning => ContentBlock.CreateThinking(text, reasoning.ProtectedData ?? ""),
            TextReasoningContent { ProtectedData: { Length: > 0 } data } => ContentBlock.Parse(JsonSerializer.Serialize(new { type = "redacted_thinking", data })),
            FunctionCallContent call => ContentBlock.CreateToolUse(call.CallId, call.Name, JsonSerializer.Serialize(call.Arguments ?? new Dictionary<string, object?>())),
            FunctionResultContent result => ContentBlock.CreateToolResult(result.CallId, ResultText(result.Result), result.Exception is not null),
            DataContent data when data.HasTopLevelMediaType("image") => ContentBlock.Parse(JsonSerializer.Serialize(new
            {
                type = "image",
                source = new { type = "base64", media_type = data.MediaType, data = data.Base64Data.ToString() },
            })),
            _ => null,
        };
    }

    private static string ResultText(object? result) => result switch
    {
        null => "",
        string s => s,
        JsonElement e when e.ValueKind == JsonValueKind.String => e.GetString() ?? "",
        _ => JsonSerializer.Serialize(result),
    };

    private static Dictionary<string, object?> Arguments(ContentBlock block) =>
        block.Element.TryGetProperty("input", out var input) && input.ValueKind == JsonValueKind.Object
            ? input.EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value.Clone())
            : [];

    private static string? String(ContentBlock block, string name) =>
        block.Element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static T? Deserialize<T>(string json)
        where T : class
    {
        try
        {
            return JsonSerializer.Deserialize<T>(json);
        }
        catch (JsonException)
        {
            return null; // a block the SDK cannot read: the typed content still goes
        }
    }
}
