using System.Text.Json;

namespace ConversationLedger;

/// <summary>
/// The model behind the ledger: the Messages API through the official SDK in production, the emulator in
/// tests and offline use (same adapter, another base URL). Implementations are thread-safe.
/// </summary>
public interface IModelClient
{
    /// <summary>Sends a request and returns the whole reply.</summary>
    /// <exception cref="ModelCallException">The API answered with an error or could not be reached.</exception>
    Task<ModelResponse> SendAsync(ModelRequest request, CancellationToken cancellationToken = default);

    /// <summary>
    /// Streams the reply: deltas as they arrive, then exactly one <see cref="StreamCompleted"/> with the
    /// assembled reply. A stream that ends in an error event or a dropped connection throws instead.
    /// </summary>
    /// <exception cref="ModelCallException">The API answered with an error, or the stream broke.</exception>
    IAsyncEnumerable<ModelStreamEvent> StreamAsync(ModelRequest request, CancellationToken cancellationToken = default);

    /// <summary>The exact input token count of a request, from the API's count_tokens endpoint.</summary>
    Task<long> CountTokensAsync(ModelRequest request, CancellationToken cancellationToken = default);
}

/// <summary>
/// One request to the Messages API. <see cref="ToJson"/> is the one place a request becomes API JSON; the
/// SDK adapter sends exactly that body, and request previews show exactly that body.
/// </summary>
public sealed record ModelRequest
{
    /// <summary>The model id.</summary>
    public required string Model { get; init; }

    /// <summary>The most tokens the reply may have.</summary>
    public required int MaxTokens { get; init; }

    /// <summary>The top-level system prompt as text blocks (each may carry a cache breakpoint); empty for none.</summary>
    public IReadOnlyList<ContentBlock> System { get; init; } = [];

    /// <summary>The messages, oldest first.</summary>
    public required IReadOnlyList<Message> Messages { get; init; }

    /// <summary>Tool definitions, verbatim (a JSON array), if any.</summary>
    public JsonElement? Tools { get; init; }

    /// <summary>The tool_choice object, verbatim, if any.</summary>
    public JsonElement? ToolChoice { get; init; }

    /// <summary>The thinking configuration object, verbatim, if any.</summary>
    public JsonElement? Thinking { get; init; }

    /// <summary>The output_config object (e.g. <c>{"effort":"high"}</c>), verbatim, if any.</summary>
    public JsonElement? OutputConfig { get; init; }

    /// <summary>Stop sequences, if any.</summary>
    public IReadOnlyList<string> StopSequences { get; init; } = [];

    /// <summary>The TTL ("5m" or "1h") of top-level automatic caching, or null for none.</summary>
    public string? AutomaticCacheTtl { get; init; }

    /// <summary>Extra HTTP headers for this request (a beta header, or an emulator fault in tests).</summary>
    public IReadOnlyDictionary<string, string> Headers { get; init; } = new Dictionary<string, string>();

    /// <summary>The request body as the API expects it.</summary>
    /// <param name="stream">Whether to ask for a server-sent event stream.</param>
    /// <param name="forCounting">Whether the body is for count_tokens (which takes no max_tokens).</param>
    public string ToJson(bool stream = false, bool forCounting = false) => ConversationLedger.Json.Write(w => WriteTo(w, stream, forCounting));

    /// <summary>Writes the request body.</summary>
    public void WriteTo(Utf8JsonWriter writer, bool stream = false, bool forCounting = false)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStartObject();
        writer.WriteString("model", Model);
        if (!forCounting)
        {
            writer.WriteNumber("max_tokens", MaxTokens);
        }
        if (System.Count > 0)
        {
            writer.WriteStartArray("system");
            foreach (var block in System)
            {
                block.WriteTo(writer);
            }
            writer.WriteEndArray();
        }
        writer.WriteStartArray("messages");
        foreach (var message in Messages)
        {
            message.WriteTo(writer);
        }
        writer.WriteEndArray();
        WriteVerbatim(writer, "tools", Tools);
        WriteVerbatim(writer, "tool_choice", ToolChoice);
        WriteVerbatim(writer, "thinking", Thinking);
        WriteVerbatim(writer, "output_config", OutputConfig);
        if (StopSequences.Count > 0 && !forCounting)
        {
            writer.WriteStartArray("stop_sequences");
            foreach (var s in StopSequences)
            {
                writer.WriteStringValue(s);
            }
            writer.WriteEndArray();
        }
        if (AutomaticCacheTtl is not null)
        {
            ContentBlock.WriteCacheControl(writer, AutomaticCacheTtl);
        }
        if (stream && !forCounting)
        {
            writer.WriteBoolean("stream", true);
        }
        writer.WriteEndObject();
    }

    private static void WriteVerbatim(Utf8JsonWriter writer, string name, JsonElement? value)
    {
        if (value is { ValueKind: not JsonValueKind.Undefined } v)
        {
            writer.WritePropertyName(name);
            v.WriteTo(writer);
        }
    }
}

/// <summary>The model's reply to one request.</summary>
/// <param name="Id">The message id (msg_…).</param>
/// <param name="Model">The model that answered.</param>
/// <param name="Message">The assistant message, its blocks exactly as returned.</param>
/// <param name="StopReason">Why the model stopped (end_turn, max_tokens, tool_use, …).</param>
/// <param name="Usage">Every usage field of the call.</param>
/// <param name="RequestId">The API's request id, when known.</param>
public sealed record ModelResponse(string Id, string Model, Message Message, string? StopReason, TokenUsage Usage, string? RequestId);

/// <summary>One event of a streamed reply.</summary>
public abstract record ModelStreamEvent;

/// <summary>Text arrived for the content block at <paramref name="Index"/>.</summary>
public sealed record TextDelta(int Index, string Text) : ModelStreamEvent;

/// <summary>Thinking text arrived for the content block at <paramref name="Index"/>.</summary>
public sealed record ThinkingDelta(int Index, string Text) : ModelStreamEvent;

/// <summary>Part of a tool call's input JSON arrived for the content block at <paramref name="Index"/>.</summary>
public sealed record ToolInputDelta(int Index, string PartialJson) : ModelStreamEvent;

/// <summary>The stream finished; the assembled reply.</summary>
public sealed record StreamCompleted(ModelResponse Response) : ModelStreamEvent;

/// <summary>
/// The stream started and the API reported the call's usage so far (its prompt tokens): from here on the call is billed,
/// whatever becomes of the stream. Optional: a client that does not send it only loses the record of a stream cut short.
/// </summary>
/// <param name="Model">The model serving the call.</param>
/// <param name="Usage">The usage reported at the start.</param>
/// <param name="RequestId">The API's request id, when known.</param>
public sealed record StreamStarted(string Model, TokenUsage Usage, string? RequestId) : ModelStreamEvent;
