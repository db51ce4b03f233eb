using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace ConversationLedger.Emulator;

/// <summary>The emulator's routes: the Messages API, health, and the <c>/_emulator</c> controls.</summary>
internal sealed class EmulatorEndpoints(EmulatorServer server)
{
    public const string FaultHeader = "x-emulator-fault";

    private EmulatorOptions Options => server.Options;

    public void Map(WebApplication app)
    {
        app.Use(async (context, next) =>
        {
            HttpExchange.AssignRequestId(context);
            try
            {
                await next(context);
            }
            catch (BadHttpRequestException ex) when (!context.Response.HasStarted)
            {
                // A body the server cannot read (broken chunked framing, a client too slow to send it) is the client's
                // fault: a 4xx, which SDKs do not retry, never the 500 below.
                await HttpExchange.WriteErrorAsync(context, ApiErrors.BadRequest($"the request body could not be read: {ex.Message}")
                    with { Status = ex.StatusCode is >= 400 and < 500 ? ex.StatusCode : 400 }, CancellationToken.None);
            }
            catch (Exception) when (!context.Response.HasStarted && !context.RequestAborted.IsCancellationRequested)
            {
                // Last resort: a bug must still answer in the API's shape.
                context.Response.Clear();
                context.Response.Headers["request-id"] = HttpExchange.RequestId(context);
                await HttpExchange.WriteErrorAsync(context, ApiErrors.Internal(), CancellationToken.None);
            }
        });

        app.MapPost("/v1/messages", MessagesAsync);
        app.MapPost("/v1/messages/count_tokens", CountTokensAsync);
        app.MapGet("/health", context => HttpExchange.WriteJsonAsync(context, 200, """{"status":"ok"}""", context.RequestAborted));

        var control = app.MapGroup("/_emulator");
        control.MapPost("/script", ScriptAsync);
        control.MapGet("/script", context => CountAsync(context, server.Script.Count));
        control.MapDelete("/script", context => ClearAsync(context, server.Script.Clear));
        control.MapPost("/faults", FaultsAsync);
        control.MapGet("/faults", context => CountAsync(context, server.Faults.Count));
        control.MapDelete("/faults", context => ClearAsync(context, server.Faults.Clear));
        control.MapGet("/requests", RequestsAsync);
        control.MapDelete("/requests", context => ClearAsync(context, server.Requests.Clear));
        control.MapPost("/reset", context => ClearAsync(context, server.Reset));

        app.MapFallback(context => HttpExchange.WriteErrorAsync(context,
            ApiErrors.UnknownPath(context.Request.Method, context.Request.Path.Value ?? "/"), context.RequestAborted));
    }

    private async Task MessagesAsync(HttpContext context)
    {
        var ct = context.RequestAborted;
        var body = await HttpExchange.ReadBodyAsync(context, Options.MaxRequestBodyBytes, ct);
        server.Requests.Add(new LoggedRequest(HttpExchange.RequestId(context), Options.TimeProvider.GetUtcNow(),
            body is not null && StreamRequested(body), LoggedHeaders(context.Request), body is null ? "" : Encoding.UTF8.GetString(body)));
        if (body is null)
        {
            await HttpExchange.WriteErrorAsync(context, ApiErrors.TooLarge(Options.MaxRequestBodyBytes), ct);
            return;
        }
        if (Authenticate(context, out var apiKey) is { } authError)
        {
            await HttpExchange.WriteErrorAsync(context, authError, ct);
            return;
        }
        var fault = FaultFor(context, server.Faults, out var faultError);
        if (faultError is not null || fault.Fails)
        {
            await FailAsync(context, faultError, fault, ct);
            return;
        }

        // The API requires the version header (every SDK sends it); a hand-made request without it is refused.
        ApiError? error = Version(context) is null ? ApiErrors.BadRequest("anthropic-version: header is required") : null;
        var parsed = error is null ? RequestReader.Read(body, RequestKind.Messages, Version(context), out error) : null;
        ModelInfo? model = null;
        error ??= RequestRules.Check(parsed!, Options.Models, RequestKind.Messages, Options.VerifyThinkingSignatures, out model, Today);
        if (error is not null)
        {
            await HttpExchange.WriteErrorAsync(context, error, ct);
            return;
        }
        var layout = PromptLayout.Create(parsed!, model!.TokenFactor);
        if (layout.TotalTokens > model!.ContextWindow)
        {
            await HttpExchange.WriteErrorAsync(context, ApiErrors.PromptTooLong(layout.TotalTokens, model.ContextWindow), ct);
            return;
        }

        var prompt = server.Cache.Account(apiKey!, model.Id, layout, model.MinCacheableTokens);
        var reply = ReplyBuilder.Build(parsed!, model, layout.TotalTokens, server.Script.TryDequeue(out var scripted) ? scripted : null);
        var messageId = HttpExchange.NewId("msg_");
        var modelName = parsed!.Request.Model;
        if (parsed.Stream)
        {
            await new SseWriter(context, fault, HttpExchange.RequestId(context)).WriteReplyAsync(messageId, modelName, reply, prompt, ct);
            return;
        }
        var delay = fault.TimeToFirstToken + fault.OutputDelay(reply.OutputTokens);
        if (delay > TimeSpan.Zero)
        {
            await Task.Delay(delay, ct);
        }
        var usage = ResponseJson.Usage(prompt, reply.OutputTokens, reply.ThinkingTokens);
        await HttpExchange.WriteJsonAsync(context, 200,
            ResponseJson.Write(w => ResponseJson.WriteMessage(w, messageId, modelName, reply.Content, reply.StopReason, reply.StopSequence, usage)), ct);
    }

    private DateOnly Today => DateOnly.FromDateTime(Options.TimeProvider.GetUtcNow().UtcDateTime);

    private async Task CountTokensAsync(HttpContext context)
    {
        var ct = context.RequestAborted;
        var body = await HttpExchange.ReadBodyAsync(context, Options.MaxRequestBodyBytes, ct);
        if (body is null)
        {
            await HttpExchange.WriteErrorAsync(context, ApiErrors.TooLarge(Options.MaxRequestBodyBytes), ct);
            return;
        }
        if (Authenticate(context, out _) is { } authError)
        {
            await HttpExchange.WriteErrorAsync(context, authError, ct);
            return;
        }
        // Only a fault named in the request's header applies here; the schedule is for /v1/messages.
        var fault = FaultFor(context, schedule: null, out var faultError);
        if (faultError is not null || fault.Fails)
        {
            await FailAsync(context, faultError, fault, ct);
            return;
        }
        // The API requires the version header (every SDK sends it); a hand-made request without it is refused.
        ApiError? error = Version(context) is null ? ApiErrors.BadRequest("anthropic-version: header is required") : null;
        var parsed = error is null ? RequestReader.Read(body, RequestKind.CountTokens, Version(context), out error) : null;
        ModelInfo? model = null;
        error ??= RequestRules.Check(parsed!, Options.Models, RequestKind.CountTokens, Options.VerifyThinkingSignatures, out model, Today);
        if (error is not null)
        {
            await HttpExchange.WriteErrorAsync(context, error, ct);
            return;
        }
        var tokens = TokenCalibration.Apply(O200kTokenCounter.Instance.CountTokens(parsed!.Request), model!.TokenFactor);
        await HttpExchange.WriteJsonAsync(context, 200, ResponseJson.Write(w =>
        {
            w.WriteStartObject();
            w.WriteNumber("input_tokens", tokens);
            w.WriteEndObject();
        }), ct);
    }

    private ApiError? Authenticate(HttpContext context, out string? apiKey)
    {
        apiKey = HttpExchange.ApiKey(context.Request);
        if (apiKey is null)
        {
            return ApiErrors.MissingApiKey();
        }
        return Options.ApiKey is { } expected && !string.Equals(apiKey, expected, StringComparison.Ordinal) ? ApiErrors.InvalidApiKey() : null;
    }

    private static FaultSpec FaultFor(HttpContext context, FaultSchedule? schedule, out ApiError? error)
    {
        error = null;
        var header = context.Request.Headers[FaultHeader].ToString();
        if (header.Length == 0)
        {
            return schedule?.Next() ?? FaultSpec.None;
        }
        var spec = FaultSpec.TryParse(header, out var problem);
        if (spec is null)
        {
            error = ApiErrors.BadRequest($"{FaultHeader}: {problem}");
        }
        return spec ?? FaultSpec.None;
    }

    private static async Task FailAsync(HttpContext context, ApiError? error, FaultSpec fault, CancellationToken cancellationToken)
    {
        if (error is null && fault.Drop)
        {
            context.Abort();
            return;
        }
        error ??= fault.Status switch
        {
            429 => ApiErrors.RateLimited(),
            529 => ApiErrors.Overloaded(),
            _ => ApiErrors.Internal(),
        };
        if (error.Status == 429)
        {
            context.Items[HttpExchange.RetryAfterKey] = fault.RetryAfter;
        }
        await HttpExchange.WriteErrorAsync(context, error, cancellationToken);
    }

    private static string? Version(HttpContext context) =>
        context.Request.Headers["anthropic-version"].ToString() is { Length: > 0 } v ? v.Split(',')[0].Trim() : null;

    private static bool StreamRequested(byte[] body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            return document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("stream", out var s) && s.ValueKind == JsonValueKind.True;
        }
        // InvalidOperationException: a field name holding an unpaired surrogate throws when compared; the request reader
        // then refuses the body with a 400.
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            return false;
        }
    }

    private static Dictionary<string, string> LoggedHeaders(HttpRequest request)
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in request.Headers)
        {
            var lower = name.ToLowerInvariant();
            // The log is for checking what a client sent, not for keeping its secrets.
            headers[lower] = lower is "authorization" or "x-api-key" ? "[redacted]" : value.ToString();
        }
        return headers;
    }

    private async Task ScriptAsync(HttpContext context)
    {
        var ct = context.RequestAborted;
        var replies = new List<ScriptedReply>();
        try
        {
            using var document = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: ct);
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("replies", out var inner))
            {
                root = inner;
            }
            if (root.ValueKind != JsonValueKind.Array)
            {
                throw new FormatException("the script is a JSON list of replies (or {\"replies\": […]})");
            }
            replies.AddRange(root.EnumerateArray().Select(ScriptedReply.Parse));
        }
        // InvalidOperationException: a string that is not text (an unpaired surrogate) throws when it is read.
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException)
        {
            await HttpExchange.WriteErrorAsync(context, ApiErrors.BadRequest($"script: {ex.Message}"), ct);
            return;
        }
        server.Script.Enqueue(replies);
        await CountAsync(context, server.Script.Count);
    }

    private async Task FaultsAsync(HttpContext context)
    {
        var ct = context.RequestAborted;
        try
        {
            using var document = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: ct);
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Array)
            {
                server.Faults.Enqueue(Strings(root));
            }
            else if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("next", out var next))
            {
                server.Faults.Enqueue(Strings(next));
            }
            else if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("fault", out var fault) && fault.ValueKind == JsonValueKind.String)
            {
                if (root.TryGetProperty("rate", out var rate))
                {
                    var seed = root.TryGetProperty("seed", out var s) ? s.GetInt32() : 0;
                    server.Faults.SetRate(fault.GetString()!, rate.GetDouble(), seed);
                }
                else
                {
                    server.Faults.Enqueue(fault.GetString()!, root.TryGetProperty("count", out var count) ? count.GetInt32() : 1);
                }
            }
            else
            {
                throw new FormatException("send [\"429\", …], {\"next\": […]}, {\"fault\": \"529\", \"count\": N} or {\"fault\": \"500\", \"rate\": 0.2, \"seed\": 1}");
            }
        }
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException or ArgumentException)
        {
            await HttpExchange.WriteErrorAsync(context, ApiErrors.BadRequest($"faults: {ex.Message}"), ct);
            return;
        }
        await CountAsync(context, server.Faults.Count);
    }

    private static List<string> Strings(JsonElement array) =>
        array.ValueKind == JsonValueKind.Array && array.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String)
            ? array.EnumerateArray().Select(e => e.GetString()!).ToList()
            : throw new FormatException("faults are a list of strings such as \"429\" or \"cut:3\"");

    private Task RequestsAsync(HttpContext context) => HttpExchange.WriteJsonAsync(context, 200, ResponseJson.Write(w =>
    {
        w.WriteStartArray();
        foreach (var entry in server.Requests.Snapshot())
        {
            w.WriteStartObject();
            w.WriteString("request_id", entry.RequestId);
            w.WriteString("received_at", entry.ReceivedAt);
            w.WriteBoolean("stream", entry.Stream);
            w.WriteStartObject("headers");
            foreach (var (name, value) in entry.Headers)
            {
                w.WriteString(name, value);
            }
            w.WriteEndObject();
            w.WritePropertyName("body");
            if (IsJson(entry.Body))
            {
                w.WriteRawValue(entry.Body);
            }
            else
            {
                w.WriteStringValue(entry.Body);
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }), context.RequestAborted);

    private static bool IsJson(string text)
    {
        try
        {
            using var _ = JsonDocument.Parse(text);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static Task CountAsync(HttpContext context, int queued) =>
        HttpExchange.WriteJsonAsync(context, 200, $$"""{"queued":{{queued}}}""", context.RequestAborted);

    private static Task ClearAsync(HttpContext context, Action clear)
    {
        clear();
        return HttpExchange.WriteJsonAsync(context, 200, """{"ok":true}""", context.RequestAborted);
    }
}
