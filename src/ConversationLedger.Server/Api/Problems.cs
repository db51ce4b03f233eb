using System.Text.Json;
using Microsoft.AspNetCore.Mvc;

namespace ConversationLedger.Server.Api;

/// <summary>
/// Every error the API returns, as RFC 9457 problem details with a stable <c>type</c> (<c>urn:conversation-ledger:problem:NAME</c>),
/// a short title, the reason in <c>detail</c> and, where one field is at fault, its name in <c>field</c>. Bad input is a 4xx, never a 500.
/// </summary>
internal static class Problems
{
    /// <summary>The prefix of every problem type.</summary>
    public const string TypePrefix = "urn:conversation-ledger:problem:";

    /// <summary>A problem response.</summary>
    public static ProblemDetails Create(int status, string name, string title, string? detail = null, string? field = null)
    {
        var problem = new ProblemDetails { Status = status, Type = TypePrefix + name, Title = title, Detail = detail };
        if (field is not null)
        {
            problem.Extensions["field"] = field;
        }
        return problem;
    }

    /// <summary>400: the request is malformed or a value is out of range.</summary>
    public static ProblemDetails Invalid(string detail, string? field = null) => Create(400, "invalid-request", "The request is not valid", detail, field);

    /// <summary>401: no credentials, or ones that are not valid.</summary>
    public static ProblemDetails Unauthorized(string detail = "send an API key in the x-api-key header, or a bearer token") =>
        Create(401, "unauthorized", "Authentication required", detail);

    /// <summary>404: no such thread (also what another tenant's thread looks like).</summary>
    public static ProblemDetails NotFound(string detail) => Create(404, "not-found", "Not found", detail);

    /// <summary>409: another turn is in flight, or another writer got there first.</summary>
    public static ProblemDetails Conflict(string detail) => Create(409, "conflict", "Conflict", detail);

    /// <summary>413: the body is larger than the route takes.</summary>
    public static ProblemDetails TooLarge(long? limit) =>
        Create(413, "too-large", "The request body is too large", limit is null ? null : $"this route takes at most {limit:N0} bytes");

    /// <summary>429: the tenant's rate limit.</summary>
    public static ProblemDetails RateLimited(TimeSpan retryAfter) =>
        Create(429, "rate-limited", "Too many requests", $"this tenant's request rate is limited; retry after {Math.Ceiling(retryAfter.TotalSeconds)} s");

    /// <summary>503: the store cannot be reached or is out of connections; nothing was changed.</summary>
    public static ProblemDetails StoreUnavailable()
    {
        var problem = Create(503, "store-unavailable", "The store is unavailable", "the database could not serve the request (no connection, or it timed out); nothing was changed — retry");
        problem.Extensions["retry_after"] = 1;
        return problem;
    }

    /// <summary>The problem an exception stands for, or null when it is a bug (a 500).</summary>
    public static ProblemDetails? From(Exception exception) => exception switch
    {
        LedgerValidationException v => WithViolations(Create(400, "invalid-conversation", "The conversation would break the API's rules", v.Message), v),
        UnknownModelException m => Invalid(m.Message, "model"),
        ContextBudgetExceededException c => Create(422, "context-budget", "The request cannot fit the context window", c.Message),
        ConcurrencyConflictException c => Create(409, c.TurnInFlight ? "turn-in-flight" : "conflict", "Conflict", c.Message),
        LedgerNotFoundException n => NotFound(n.Message),
        ModelCallException m => Upstream(m),
        LedgerFormatException f => Invalid(f.Message),
        LedgerException l => Create(422, "cannot-apply", "The change cannot be applied now", l.Message),
        JsonException j => Invalid($"the body is not valid JSON: {j.Message}", j.Path is { Length: > 1 } path ? path.TrimStart('$', '.') : null),
        ArgumentException a => Invalid(a.Message.Split(" (Parameter", 2)[0], a.ParamName),
        FormatException f => Invalid(f.Message),
        BadHttpRequestException { StatusCode: 413 } => TooLarge(null),
        // The database is out of connections, unreachable or timing out: the client should retry (another instance may serve it).
        System.Data.Common.DbException or TimeoutException or StackExchange.Redis.RedisConnectionException => StoreUnavailable(),
        BadHttpRequestException b => Create(b.StatusCode, "bad-request", "The request could not be read", b.Message),
        _ => null,
    };

    /// <summary>Writes a problem as the response.</summary>
    public static Task Write(HttpContext context, ProblemDetails problem)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(problem);
        context.Response.StatusCode = problem.Status ?? 500;
        if (problem.Extensions.TryGetValue("retry_after", out var retry) && retry is int seconds)
        {
            context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        return context.Response.WriteAsJsonAsync(problem, ApiJson.Options, "application/problem+json");
    }

    /// <summary>A problem as a result for an endpoint to return.</summary>
    public static IResult Result(ProblemDetails problem) => new ProblemResult(problem);

    // An upstream failure is the model API's, not the caller's: 502 (it failed), 503 (it is overloaded or rate-limited us,
    // with its Retry-After) or 504 (it did not answer in time), with its request id. An API 400 means the prompt is too long
    // for the model (422) or our request was wrong (502: the service's fault, not the caller's).
    private static ProblemDetails Upstream(ModelCallException m)
    {
        var (status, name) = m switch
        {
            PromptTooLongException => (422, "context-budget"),
            RateLimitedException or OverloadedException => (503, "upstream-unavailable"),
            { StatusCode: null, InnerException: TaskCanceledException { InnerException: TimeoutException } } => (504, "upstream-timeout"),
            _ => (502, "upstream-error"),
        };
        var problem = Create(status, name, "The model API call failed; nothing was stored", m.Message);
        if (m.RequestId is { } id)
        {
            problem.Extensions["upstream_request_id"] = id;
        }
        if (m.StatusCode is { } upstreamStatus)
        {
            problem.Extensions["upstream_status"] = upstreamStatus;
        }
        if (status == 503)
        {
            problem.Extensions["retry_after"] = (int)Math.Ceiling((m.RetryAfter ?? TimeSpan.FromSeconds(5)).TotalSeconds);
        }
        return problem;
    }

    private static ProblemDetails WithViolations(ProblemDetails problem, LedgerValidationException v)
    {
        problem.Extensions["violations"] = v.Violations.Select(x => x.ToString()).ToArray();
        return problem;
    }

    private sealed class ProblemResult(ProblemDetails problem) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext) => Write(httpContext, problem);
    }
}
