using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using ConversationLedger.Server.Auth;
using ConversationLedger.Server.State;
using ConversationLedger.Server.Turns;
using Microsoft.AspNetCore.Http.Features;

namespace ConversationLedger.Server.Api;

/// <summary>
/// Turns: send a message and get the committed turn as JSON, or its events as they happen (<c>text/event-stream</c>);
/// re-attach to a turn's events with <c>Last-Event-ID</c>; read or cancel a turn. A turn runs on when its client drops unless
/// the client asked otherwise, and an <c>Idempotency-Key</c> makes a retried POST return the first turn instead of a second.
/// </summary>
internal static class TurnEndpoints
{
    private const string TurnPath = ThreadEndpoints.ThreadPath + "/turns/{turnId}";

    /// <summary>Maps the routes.</summary>
    public static void MapTurnEndpoints(this IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1").RequireAuthorization(LedgerAuthentication.TenantPolicy).WithTags("turns");
        v1.MapPost(ThreadEndpoints.ThreadPath + "/turns", SendAsync).Accepts<TurnRequest>("application/json")
            .Produces<TurnResponse>().Produces(200, contentType: "text/event-stream");
        v1.MapGet(TurnPath, GetAsync).Produces<TurnResponse>();
        v1.MapGet(TurnPath + "/events", EventsAsync).Produces(200, contentType: "text/event-stream");
        v1.MapPost(TurnPath + "/cancel", CancelAsync).Produces(202);
    }

    private static async Task SendAsync(HttpContext http, ServiceState state, TurnRunner runner)
    {
        var (key, thread) = await ThreadEndpoints.KnownThreadAsync(http, state);
        var bytes = await ApiJson.ReadBytesAsync(http.Request);
        var body = ApiJson.Parse<TurnRequest>(bytes);
        var message = Representations.UserMessage(body.Content);
        var options = TurnRequests.Options(thread, body);
        var streamed = body.Stream || http.Request.Headers.Accept.ToString().Contains("text/event-stream", StringComparison.OrdinalIgnoreCase);
        var hash = Convert.ToHexStringLower(SHA256.HashData([.. Encoding.UTF8.GetBytes(key + "\n"), .. bytes.Span]));
        var (turn, replayed) = await runner.StartAsync(new TurnStart(key, message, options, body.Wait, streamed, IdempotencyKey(http), hash), http.RequestAborted);
        if (replayed is not null)
        {
            http.Response.Headers["Idempotent-Replayed"] = "true";
            await WriteOutcomeAsync(http, replayed, streamed);
            return;
        }
        http.Response.Headers["x-turn-id"] = turn!.Id;
        http.Response.Headers.Location = ThreadRoute.PathOf(key, "/turns/" + turn.Id);
        if (streamed)
        {
            await WriteEventsAsync(http, turn.ReadAsync(-1, http.RequestAborted), turn, body.CancelOnDisconnect);
            return;
        }
        try
        {
            await WriteOutcomeAsync(http, await turn.Outcome.WaitAsync(http.RequestAborted), streamed: false);
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            if (body.CancelOnDisconnect)
            {
                turn.Cancel("the client disconnected");
            }
        }
    }

    private static async Task<IResult> GetAsync(HttpContext http, ServiceState state, TurnRunner runner, string turnId)
    {
        var key = await ThreadEndpoints.KnownAsync(http, state);
        if (runner.Find(key.Tenant, turnId) is { } local && local.Key == key)
        {
            return local.Outcome.IsCompleted ? Result(local.Outcome.Result) : Results.Ok(new { id = turnId, status = "running" });
        }
        var record = await RecordAsync(state, key, turnId, http.RequestAborted);
        return record.Status switch
        {
            TurnStatus.Running => Results.Ok(new { id = turnId, status = "running" }),
            TurnStatus.Committed => Results.Text(record.Result!, "application/json"),
            _ => Results.Text(record.Result!, "application/problem+json", statusCode: JsonDocument.Parse(record.Result!).RootElement.GetProperty("status").GetInt32()),
        };
    }

    private static async Task EventsAsync(HttpContext http, ServiceState state, TurnRunner runner, string turnId)
    {
        var key = await ThreadEndpoints.KnownAsync(http, state);
        var last = TurnEvent.ParseId(http.Request.Headers["Last-Event-ID"].FirstOrDefault() ?? http.Request.Query["last_event_id"].FirstOrDefault());
        if (runner.Find(key.Tenant, turnId) is { } local && local.Key == key)
        {
            await WriteEventsAsync(http, local.ReadAsync(last?.Index ?? -1, http.RequestAborted), local, cancelOnDisconnect: false);
            return;
        }
        var record = await RecordAsync(state, key, turnId, http.RequestAborted);
        await WriteEventsAsync(http, RemoteAsync(state, record, last, http.RequestAborted), null, cancelOnDisconnect: false);
    }

    private static async Task<IResult> CancelAsync(HttpContext http, ServiceState state, TurnRunner runner, string turnId)
    {
        var key = await ThreadEndpoints.KnownAsync(http, state);
        if (runner.Find(key.Tenant, turnId) is { } local && local.Key == key)
        {
            if (local.Outcome.IsCompleted)
            {
                return Problems.Result(Problems.Conflict("the turn has already finished"));
            }
            local.Cancel("a client cancelled it");
            return Results.Accepted();
        }
        var record = await RecordAsync(state, key, turnId, http.RequestAborted);
        return await state.RequestCancelAsync(key.Tenant, record.TurnId, http.RequestAborted)
            ? Results.Accepted()
            : Problems.Result(Problems.Conflict("the turn has already finished"));
    }

    // A turn running or run on another instance: wait for its end, then send what the client has not seen of the stored reply.
    private static async IAsyncEnumerable<TurnEvent> RemoteAsync(ServiceState state, TurnRecord record, (int Index, int TextChars, int ThinkingChars)? last,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        while (record.Status == TurnStatus.Running)
        {
            if (record.UpdatedAt < DateTimeOffset.UtcNow - TimeSpan.FromSeconds(10))
            {
                record = record with
                {
                    Status = TurnStatus.Failed,
                    Result = JsonSerializer.Serialize(Problems.Create(503, "turn-lost", "The instance running the turn stopped",
                        "its turn was not committed; send it again"), ApiJson.Options),
                };
                break;
            }
            await Task.Delay(250, cancellationToken);
            record = await state.GetTurnAsync(record.Key.Tenant, record.TurnId, cancellationToken) ?? record with { Status = TurnStatus.Failed };
        }
        var index = (last?.Index ?? -1) + 1;
        if (record.Status != TurnStatus.Committed)
        {
            yield return new TurnEvent(index, "error", record.Result ?? "{}", 0, 0);
            yield break;
        }
        var response = JsonSerializer.Deserialize<TurnResponse>(record.Result!, ApiJson.Options)!;
        var reply = Message.Parse(ApiJson.Write(w =>
        {
            w.WriteStartObject();
            w.WriteString("role", "assistant");
            w.WritePropertyName("content");
            w.WriteRawValue(response.Reply.Content.Json);
            w.WriteEndObject();
        }));
        var thinking = string.Concat(reply.Content.Select(b => b.Thinking?.Text));
        var text = reply.Text;
        var (sentText, sentThinking) = (Math.Min(last?.TextChars ?? 0, text.Length), Math.Min(last?.ThinkingChars ?? 0, thinking.Length));
        if (sentThinking < thinking.Length)
        {
            yield return new TurnEvent(index++, "content_block_delta", Delta("thinking_delta", "thinking", thinking[sentThinking..]), sentText, thinking.Length);
        }
        if (sentText < text.Length)
        {
            yield return new TurnEvent(index++, "content_block_delta", Delta("text_delta", "text", text[sentText..]), text.Length, thinking.Length);
        }
        yield return new TurnEvent(index, "turn_committed", record.Result!, text.Length, thinking.Length);
    }

    private static string Delta(string type, string field, string value) => ApiJson.Write(w =>
    {
        w.WriteStartObject();
        w.WriteString("type", "content_block_delta");
        w.WriteStartObject("delta");
        w.WriteString("type", type);
        w.WriteString(field, value);
        w.WriteEndObject();
        w.WriteEndObject();
    });

    private static async Task WriteEventsAsync(HttpContext http, IAsyncEnumerable<TurnEvent> events, RunningTurn? turn, bool cancelOnDisconnect)
    {
        http.Response.ContentType = "text/event-stream";
        http.Response.Headers.CacheControl = "no-cache";
        http.Response.Headers["X-Accel-Buffering"] = "no";
        http.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        try
        {
            await SseFormatter.WriteAsync(Items(events), http.Response.Body, http.RequestAborted);
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            if (cancelOnDisconnect)
            {
                turn?.Cancel("the client disconnected");
            }
        }
    }

    private static async IAsyncEnumerable<SseItem<string>> Items(IAsyncEnumerable<TurnEvent> events)
    {
        await foreach (var e in events)
        {
            yield return new SseItem<string>(e.Data, e.Name) { EventId = e.Id };
        }
    }

    private static async Task WriteOutcomeAsync(HttpContext http, TurnOutcome outcome, bool streamed)
    {
        if (streamed)
        {
            var e = outcome.Response is { } r
                ? new TurnEvent(0, "turn_committed", JsonSerializer.Serialize(r, ApiJson.Options), r.Text.Length, 0)
                : new TurnEvent(0, "error", JsonSerializer.Serialize(outcome.Problem, ApiJson.Options), 0, 0);
            await WriteEventsAsync(http, new[] { e }.ToAsyncEnumerable(), null, cancelOnDisconnect: false);
            return;
        }
        await Result(outcome).ExecuteAsync(http);
    }

    private static IResult Result(TurnOutcome outcome) =>
        outcome.Response is { } response ? Results.Json(response, ApiJson.Options) : Problems.Result(outcome.Problem!);

    private static async Task<TurnRecord> RecordAsync(ServiceState state, ThreadKey key, string turnId, CancellationToken cancellationToken)
    {
        var record = await state.GetTurnAsync(key.Tenant, turnId, cancellationToken);
        return record is not null && record.Key == key
            ? record
            : throw new LedgerNotFoundException($"no turn {turnId} on thread {key.ThreadId} (turns are kept for a while after they end; only streamed turns and turns sent with an idempotency key are kept)");
    }

    private static string? IdempotencyKey(HttpContext http)
    {
        var value = http.Request.Headers["Idempotency-Key"].FirstOrDefault();
        if (value is null)
        {
            return null;
        }
        return value.Length is >= 1 and <= 200 && value.All(c => c is >= '!' and <= '~')
            ? value
            : throw new ArgumentException("Idempotency-Key must be 1 to 200 visible ASCII characters", "Idempotency-Key");
    }
}
