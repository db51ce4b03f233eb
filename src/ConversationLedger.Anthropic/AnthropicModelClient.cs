using System.Net;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Anthropic;
using Anthropic.Exceptions;
using Anthropic.Models.Messages;

namespace ConversationLedger.Anthropic;

/// <summary>
/// <see cref="IModelClient"/> over the official Anthropic SDK. Requests are sent as the exact JSON that
/// <see cref="ModelRequest.ToJson"/> writes (so stored blocks, unknown types and thinking signatures go out
/// unchanged) and replies are read from the raw response body (so they come back unchanged). The same class
/// talks to the real API and to the emulator; only the base URL differs. Thread-safe.
/// </summary>
public sealed class AnthropicModelClient : IModelClient
{
    private static readonly IReadOnlyDictionary<string, JsonElement> NoQuery = new Dictionary<string, JsonElement>();
    private readonly AnthropicClient _client;

    /// <summary>Creates a client from settings.</summary>
    /// <exception cref="ArgumentException">No API key is configured.</exception>
    public AnthropicModelClient(AnthropicModelClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrWhiteSpace(options.ApiKey))
        {
            throw new ArgumentException("no API key: set ANTHROPIC_API_KEY or AnthropicModelClientOptions.ApiKey", nameof(options));
        }
        ArgumentOutOfRangeException.ThrowIfNegative(options.MaxRetries, nameof(options));
        var baseUrl = string.IsNullOrWhiteSpace(options.BaseUrl) ? "https://api.anthropic.com" : options.BaseUrl;
        IReadOnlyList<DelegatingHandler> handlers = [new RetryAfterRecorder()];
        _client = options.HttpClient is { } http
            ? new AnthropicClient { ApiKey = options.ApiKey, BaseUrl = baseUrl, MaxRetries = options.MaxRetries, Timeout = options.Timeout, HttpClient = http, Handlers = handlers }
            : new AnthropicClient { ApiKey = options.ApiKey, BaseUrl = baseUrl, MaxRetries = options.MaxRetries, Timeout = options.Timeout, Handlers = handlers };
    }

    /// <inheritdoc />
    public async Task<ModelResponse> SendAsync(ModelRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        RetryAfterRecorder.Last.Value = new();
        try
        {
            var parameters = MessageCreateParams.FromRawUnchecked(Headers(request), NoQuery, Body(request.ToJson()));
            using var raw = await _client.WithRawResponse.Messages.Create(parameters, cancellationToken);
            var body = await raw.ReadAsString(cancellationToken);
            return ParseMessage(body, raw.RequestID);
        }
        catch (Exception ex) when (Translate(ex, cancellationToken) is { } translated)
        {
            throw translated;
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<ModelStreamEvent> StreamAsync(ModelRequest request, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        RetryAfterRecorder.Last.Value = new();
        var assembler = new StreamAssembler();
        global::Anthropic.Core.StreamingHttpResponse<RawMessageStreamEvent>? raw = null;
        IAsyncEnumerator<RawMessageStreamEvent>? events = null;
        try
        {
            try
            {
                // Inside the translated block, as in SendAsync: a body the SDK cannot take fails like any other call.
                var parameters = MessageCreateParams.FromRawUnchecked(Headers(request), NoQuery, Body(request.ToJson()));
                raw = await _client.WithRawResponse.Messages.CreateStreaming(parameters, cancellationToken);
                assembler.RequestId = raw.RequestID;
                events = raw.Enumerate(cancellationToken).GetAsyncEnumerator(cancellationToken);
            }
            catch (Exception ex) when (Translate(ex, cancellationToken) is { } translated)
            {
                throw translated;
            }
            while (true)
            {
                ModelStreamEvent? update;
                try
                {
                    if (!await events.MoveNextAsync())
                    {
                        break;
                    }
                    update = assembler.Add(events.Current);
                }
                catch (Exception ex) when (Translate(ex, cancellationToken, assembler.RequestId) is { } translated)
                {
                    throw translated;
                }
                if (update is not null)
                {
                    yield return update;
                }
            }
        }
        finally
        {
            if (events is not null)
            {
                await events.DisposeAsync();
            }
            raw?.Dispose();
        }
        // The SDK ends quietly when the body ends without message_stop: that reply is incomplete.
        yield return new StreamCompleted(assembler.Complete());
    }

    /// <inheritdoc />
    public async Task<long> CountTokensAsync(ModelRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        RetryAfterRecorder.Last.Value = new();
        try
        {
            var parameters = MessageCountTokensParams.FromRawUnchecked(Headers(request), NoQuery, Body(request.ToJson(forCounting: true)));
            var count = await _client.Messages.CountTokens(parameters, cancellationToken);
            return count.InputTokens;
        }
        catch (Exception ex) when (Translate(ex, cancellationToken) is { } translated)
        {
            throw translated;
        }
    }

    /// <summary>Reads a Messages API response body into a reply, keeping each content block's JSON verbatim.</summary>
    internal static ModelResponse ParseMessage(string body, string? requestId)
    {
        using var document = JsonDocument.Parse(body);
        var root = document.RootElement;
        var content = root.GetProperty("content").EnumerateArray().Select(ContentBlock.From).ToArray();
        return new ModelResponse(
            root.GetProperty("id").GetString() ?? "",
            root.GetProperty("model").GetString() ?? "",
            new ConversationLedger.Message(Role.Assistant, content),
            root.TryGetProperty("stop_reason", out var stop) && stop.ValueKind == JsonValueKind.String ? stop.GetString() : null,
            TokenUsage.Parse(root.TryGetProperty("usage", out var usage) ? usage : default),
            requestId);
    }

    private static Dictionary<string, JsonElement> Body(string json) =>
        JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(json)!;

    private static Dictionary<string, JsonElement> Headers(ModelRequest request) =>
        request.Headers.ToDictionary(h => h.Key, h => JsonSerializer.SerializeToElement(h.Value));

    /// <summary>Maps SDK and transport failures to <see cref="ModelCallException"/>; null leaves the exception alone.</summary>
    internal static Exception? Translate(Exception ex, CancellationToken cancellationToken, string? requestId = null)
    {
        switch (ex)
        {
            case ModelCallException:
                return null;
            case OperationCanceledException when cancellationToken.IsCancellationRequested:
                return null; // the caller cancelled: let the cancellation surface as it is
            case AnthropicApiException api:
                return ModelCallException.ForApiError(api.ApiMessage ?? api.ResponseBody ?? "no message", (int)api.StatusCode,
                    api.Type?.Raw(), api.RequestID ?? requestId, RetryAfter(api), ex);
            case AnthropicSseException sse:
                var sseRequest = sse.Body is { ValueKind: JsonValueKind.Object } b && b.TryGetProperty("request_id", out var r) ? r.GetString() : null;
                return ModelCallException.ForApiError($"the stream ended with an error event: {sse.ApiMessage}", null, sse.Type?.Raw(), sseRequest ?? requestId, null, ex);
            case TaskCanceledException { InnerException: TimeoutException }:
                return new ModelCallException("the request timed out", requestId: requestId, innerException: ex);
            case AnthropicIOException or HttpRequestException or IOException:
                return new ModelCallException($"the connection failed or was dropped ({ex.GetBaseException().Message})", requestId: requestId, innerException: ex);
            case JsonException or KeyNotFoundException or InvalidOperationException or AnthropicException:
                return new ModelCallException($"the API's answer could not be read ({ex.Message})", requestId: requestId, innerException: ex);
            default:
                return null;
        }
    }

    private static TimeSpan? RetryAfter(AnthropicApiException api) =>
        api.StatusCode is HttpStatusCode.TooManyRequests or (HttpStatusCode)529 ? RetryAfterRecorder.Last.Value?.Value : null;

    /// <summary>
    /// The SDK's exceptions carry no response headers, so this handler notes the last retry-after it saw
    /// in a box owned by the calling flow; the box is read when a rate-limit error is translated.
    /// </summary>
    private sealed class RetryAfterRecorder : DelegatingHandler
    {
        public static readonly AsyncLocal<System.Runtime.CompilerServices.StrongBox<TimeSpan?>?> Last = new();

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            if (Last.Value is { } box && response.Headers.RetryAfter is { } retryAfter)
            {
                box.Value = retryAfter.Delta ?? (retryAfter.Date is { } date ? date - DateTimeOffset.UtcNow : null);
            }
            return response;
        }
    }

    /// <summary>Builds the final reply from stream events, as the API would have returned it whole.</summary>
    private sealed class StreamAssembler
    {
        private readonly SortedDictionary<long, JsonObject> _blocks = [];
        private readonly Dictionary<long, System.Text.StringBuilder> _toolInput = [];
        private JsonObject? _message;
        private JsonObject _usage = [];
        private string? _stopReason;
        private bool _stopped;

        public string? RequestId { get; set; }

        public ModelStreamEvent? Add(RawMessageStreamEvent streamEvent)
        {
            var data = streamEvent.Json;
            switch (streamEvent.Type.Raw())
            {
                case "message_start":
                    _message = JsonNode.Parse(data.GetProperty("message").GetRawText())!.AsObject();
                    if (_message["usage"] is JsonObject startUsage)
                    {
                        _usage = startUsage;
                    }
                    // From here the call is billed: the ledger records this usage if the stream is then cut short.
                    using (var reported = JsonDocument.Parse(_usage.ToJsonString()))
                    {
                        return new StreamStarted(_message["model"]?.GetValue<string>() ?? "", TokenUsage.Parse(reported.RootElement), RequestId);
                    }
                case "content_block_start":
                    var index = data.GetProperty("index").GetInt64();
                    var started = _blocks[index] = JsonNode.Parse(data.GetProperty("content_block").GetRawText())!.AsObject();
                    // A thinking block says thinking started even when its text is omitted (only a signature follows).
                    return started["type"]?.GetValue<string>() == "thinking" ? new ThinkingDelta((int)index, "") : null;
                case "content_block_delta":
                    return AddDelta(data.GetProperty("index").GetInt64(), data.GetProperty("delta"));
                case "content_block_stop":
                    var stopped = data.GetProperty("index").GetInt64();
                    if (_toolInput.Remove(stopped, out var json) && _blocks.TryGetValue(stopped, out var toolBlock))
                    {
                        toolBlock["input"] = json.Length == 0 ? new JsonObject() : JsonNode.Parse(json.ToString());
                    }
                    return null;
                case "message_delta":
                    if (data.TryGetProperty("delta", out var delta) && delta.TryGetProperty("stop_reason", out var reason)
                        && reason.ValueKind == JsonValueKind.String)
                    {
                        _stopReason = reason.GetString();
                    }
                    if (data.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
                    {
                        // message_delta usage is cumulative; fields it leaves out keep their message_start values.
                        foreach (var property in usage.EnumerateObject().Where(p => p.Value.ValueKind != JsonValueKind.Null))
                        {
                            _usage[property.Name] = JsonNode.Parse(property.Value.GetRawText());
                        }
                    }
                    return null;
                case "message_stop":
                    _stopped = true;
                    return null;
                default:
                    return null; // ping and event types newer than this code
            }
        }

        public ModelResponse Complete()
        {
            if (_message is null || !_stopped)
            {
                throw new ModelCallException("the stream ended before message_stop; the reply is incomplete", requestId: RequestId);
            }
            var content = _blocks.Values.Select(b => ContentBlock.Parse(b.ToJsonString(AsTheApiWritesIt))).ToArray();
            using var usage = JsonDocument.Parse(_usage.ToJsonString());
            return new ModelResponse(
                _message["id"]?.GetValue<string>() ?? "",
                _message["model"]?.GetValue<string>() ?? "",
                new ConversationLedger.Message(Role.Assistant, content),
                _stopReason,
                TokenUsage.Parse(usage.RootElement),
                RequestId);
        }

        // Quotes, non-ASCII text and the like written as characters, not \u escapes: a streamed reply is stored as the
        // same JSON text a plain call returns.
        private static readonly JsonSerializerOptions AsTheApiWritesIt = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

        private ModelStreamEvent? AddDelta(long index, JsonElement delta)
        {
            if (!_blocks.TryGetValue(index, out var block))
            {
                throw new ModelCallException($"the stream sent a delta for block {index} before its start", requestId: RequestId);
            }
            var type = delta.GetProperty("type").GetString();
            switch (type)
            {
                case "text_delta":
                    var text = delta.GetProperty("text").GetString() ?? "";
                    block["text"] = (block["text"]?.GetValue<string>() ?? "") + text;
                    return new TextDelta((int)index, text);
                case "thinking_delta":
                    var thinking = delta.GetProperty("thinking").GetString() ?? "";
                    block["thinking"] = (block["thinking"]?.GetValue<string>() ?? "") + thinking;
                    return new ThinkingDelta((int)index, thinking);
                case "signature_delta":
                    block["signature"] = (block["signature"]?.GetValue<string>() ?? "") + delta.GetProperty("signature").GetString();
                    return null;
                case "input_json_delta":
                    var part = delta.GetProperty("partial_json").GetString() ?? "";
                    if (!_toolInput.TryGetValue(index, out var sb))
                    {
                        _toolInput[index] = sb = new System.Text.StringBuilder();
                    }
                    sb.Append(part);
                    return new ToolInputDelta((int)index, part);
                case "citations_delta":
                    if (block["citations"] is not JsonArray citations)
                    {
                        block["citations"] = citations = [];
                    }
                    citations.Add(JsonNode.Parse(delta.GetProperty("citation").GetRawText()));
                    return null;
                default:
                    return null;
            }
        }
    }
}
