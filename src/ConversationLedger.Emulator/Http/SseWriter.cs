using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;

namespace ConversationLedger.Emulator;

/// <summary>
/// The one place that writes a streamed reply as server-sent events in the API's order — message_start, ping,
/// per block content_block_start / content_block_delta… (text, citations, thinking, signature, tool input) / content_block_stop, message_delta, message_stop —
/// and applies the stream faults (cut after K events, an error event, time to first token, tokens per second).
/// </summary>
internal sealed partial class SseWriter(HttpContext context, FaultSpec fault, string requestId)
{
    private static readonly TimeSpan CutGrace = TimeSpan.FromMilliseconds(100);

    private readonly Stream _body = context.Response.Body;
    private int _sent;

    /// <summary>Streams the whole reply; returns early when a fault ends the stream.</summary>
    public async Task WriteReplyAsync(string messageId, string model, Reply reply, CacheAccounting prompt, CancellationToken cancellationToken)
    {
        context.Response.StatusCode = 200;
        context.Response.ContentType = "text/event-stream; charset=utf-8";
        context.Response.Headers.CacheControl = "no-cache";

        var startUsage = ResponseJson.Usage(prompt, Math.Min(1, reply.OutputTokens), 0);
        if (!await EventAsync("message_start", w =>
            {
                w.WriteStartObject();
                w.WriteString("type", "message_start");
                w.WritePropertyName("message");
                ResponseJson.WriteMessage(w, messageId, model, [], null, null, startUsage);
                w.WriteEndObject();
            }, cancellationToken)
            || !await EventAsync("ping", w =>
            {
                w.WriteStartObject();
                w.WriteString("type", "ping");
                w.WriteEndObject();
            }, cancellationToken))
        {
            return;
        }

        if (fault.TimeToFirstToken > TimeSpan.Zero)
        {
            await Task.Delay(fault.TimeToFirstToken, cancellationToken);
        }
        for (var index = 0; index < reply.Content.Count; index++)
        {
            if (!await WriteBlockAsync(index, reply.Content[index], cancellationToken))
            {
                return;
            }
        }

        var usage = ResponseJson.Usage(prompt, reply.OutputTokens, reply.ThinkingTokens);
        if (await EventAsync("message_delta", w =>
            {
                w.WriteStartObject();
                w.WriteString("type", "message_delta");
                w.WriteStartObject("delta");
                w.WriteString("stop_reason", reply.StopReason);
                if (reply.StopSequence is null)
                {
                    w.WriteNull("stop_sequence");
                }
                else
                {
                    w.WriteString("stop_sequence", reply.StopSequence);
                }
                w.WriteEndObject();
                w.WritePropertyName("usage");
                usage.WriteTo(w);
                w.WriteEndObject();
            }, cancellationToken))
        {
            await EventAsync("message_stop", w =>
            {
                w.WriteStartObject();
                w.WriteString("type", "message_stop");
                w.WriteEndObject();
            }, cancellationToken);
        }
    }

    private async Task<bool> WriteBlockAsync(int index, ContentBlock block, CancellationToken cancellationToken)
    {
        var element = block.Element;
        var (start, deltaType, deltaField, chunks) = block.Type switch
        {
            "text" => (Empty(w => { w.WriteString("type", "text"); w.WriteString("text", ""); }), "text_delta", "text", Words(block.Text ?? "")),
            "thinking" => (Empty(w => { w.WriteString("type", "thinking"); w.WriteString("thinking", ""); w.WriteString("signature", ""); }),
                "thinking_delta", "thinking", Words(block.Thinking!.Text)),
            "tool_use" => (ToolUseStart(element), "input_json_delta", "partial_json", JsonChunks(element)),
            // Other blocks (redacted thinking, server tool results, unknown types) arrive whole in content_block_start.
            _ => (block.Json, "", "", new List<string>()),
        };

        if (!await EventAsync("content_block_start", w =>
            {
                w.WriteStartObject();
                w.WriteString("type", "content_block_start");
                w.WriteNumber("index", index);
                w.WritePropertyName("content_block");
                w.WriteRawValue(start, skipInputValidation: true);
                w.WriteEndObject();
            }, cancellationToken))
        {
            return false;
        }
        if (block.Type == "text" && !await CitationsAsync(index, element, cancellationToken))
        {
            return false;
        }
        foreach (var chunk in chunks)
        {
            if (!await DeltaAsync(index, deltaType, deltaField, chunk, cancellationToken))
            {
                return false;
            }
            await PaceAsync(chunk, cancellationToken);
        }
        if (block.Type == "thinking" && block.Thinking!.Signature is { } signature
            && !await DeltaAsync(index, "signature_delta", "signature", signature, cancellationToken))
        {
            return false;
        }
        return await EventAsync("content_block_stop", w =>
        {
            w.WriteStartObject();
            w.WriteString("type", "content_block_stop");
            w.WriteNumber("index", index);
            w.WriteEndObject();
        }, cancellationToken);
    }

    private Task<bool> DeltaAsync(int index, string type, string field, string value, CancellationToken cancellationToken) =>
        EventAsync("content_block_delta", w =>
        {
            w.WriteStartObject();
            w.WriteString("type", "content_block_delta");
            w.WriteNumber("index", index);
            w.WriteStartObject("delta");
            w.WriteString("type", type);
            w.WriteString(field, value);
            w.WriteEndObject();
            w.WriteEndObject();
        }, cancellationToken);

    // The start of a text block carries no citations; each arrives in its own citations_delta, as the API streams them.
    private async Task<bool> CitationsAsync(int index, JsonElement block, CancellationToken cancellationToken)
    {
        if (!block.TryGetProperty("citations", out var citations) || citations.ValueKind != JsonValueKind.Array)
        {
            return true;
        }
        foreach (var citation in citations.EnumerateArray())
        {
            if (!await EventAsync("content_block_delta", w =>
                {
                    w.WriteStartObject();
                    w.WriteString("type", "content_block_delta");
                    w.WriteNumber("index", index);
                    w.WriteStartObject("delta");
                    w.WriteString("type", "citations_delta");
                    w.WritePropertyName("citation");
                    citation.WriteTo(w);
                    w.WriteEndObject();
                    w.WriteEndObject();
                }, cancellationToken))
            {
                return false;
            }
        }
        return true;
    }

    private async Task PaceAsync(string chunk, CancellationToken cancellationToken)
    {
        if (fault.TokensPerSecond is not null)
        {
            await Task.Delay(fault.OutputDelay(Math.Max(1, O200kTokenCounter.CountText(chunk))), cancellationToken);
        }
    }

    /// <summary>Writes one event, unless a fault ends the stream at this point (then false).</summary>
    private async Task<bool> EventAsync(string name, Action<Utf8JsonWriter> data, CancellationToken cancellationToken)
    {
        if (fault.CutAfterEvents == _sent)
        {
            await _body.FlushAsync(cancellationToken);
            // A reset discards data the client has not read yet; give it a moment to take the events already sent.
            await Task.Delay(CutGrace, cancellationToken);
            context.Abort();
            return false;
        }
        if (fault.ErrorEventAfter == _sent)
        {
            // An error after a 200: the API's way of reporting an overload mid-stream.
            await WriteRawAsync("error", ResponseJson.Write(w => ResponseJson.WriteError(w, ApiErrors.Overloaded(), requestId)), cancellationToken);
            return false;
        }
        await WriteRawAsync(name, ResponseJson.Write(data), cancellationToken);
        _sent++;
        return true;
    }

    private async Task WriteRawAsync(string name, string json, CancellationToken cancellationToken)
    {
        var bytes = Encoding.UTF8.GetBytes($"event: {name}\ndata: {json}\n\n");
        await _body.WriteAsync(bytes, cancellationToken);
        await _body.FlushAsync(cancellationToken);
    }

    private static string Empty(Action<Utf8JsonWriter> fields) => ResponseJson.Write(w =>
    {
        w.WriteStartObject();
        fields(w);
        w.WriteEndObject();
    });

    private static string ToolUseStart(JsonElement element) => ResponseJson.Write(w =>
    {
        // The input arrives in input_json_delta events; the start carries an empty object in its place.
        w.WriteStartObject();
        foreach (var property in element.EnumerateObject())
        {
            if (property.NameEquals("input"))
            {
                w.WriteStartObject("input");
                w.WriteEndObject();
            }
            else
            {
                property.WriteTo(w);
            }
        }
        w.WriteEndObject();
    });

    private static List<string> JsonChunks(JsonElement element)
    {
        var json = element.TryGetProperty("input", out var input) ? input.GetRawText() : "{}";
        var chunks = new List<string> { "" };
        for (var i = 0; i < json.Length; i += 16)
        {
            var length = Math.Min(16, json.Length - i);
            if (i + length < json.Length && char.IsHighSurrogate(json[i + length - 1]))
            {
                length++;
            }
            chunks.Add(json.Substring(i, length));
            i += length - 16;
        }
        return chunks;
    }

    // A few words per delta, the way the API streams text.
    private static List<string> Words(string text)
    {
        var words = WordPattern().Matches(text).Select(m => m.Value).ToList();
        var chunks = new List<string>();
        for (var i = 0; i < words.Count; i += 3)
        {
            chunks.Add(string.Concat(words.Skip(i).Take(3)));
        }
        // An omitted thinking display sends no thinking deltas at all, only the signature.
        return chunks.Count > 0 ? chunks : text.Length > 0 ? [text] : [];
    }

    [GeneratedRegex(@"\s*\S+\s*", RegexOptions.CultureInvariant)]
    private static partial Regex WordPattern();
}
