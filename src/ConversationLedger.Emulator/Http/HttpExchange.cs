using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace ConversationLedger.Emulator;

/// <summary>HTTP plumbing shared by the endpoints: request ids, bodies, auth and writing JSON and errors.</summary>
internal static class HttpExchange
{
    private const string RequestIdKey = "emulator.request-id";

    public static string NewId(string prefix) =>
        prefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(18)).Replace('+', 'A').Replace('/', 'B');

    /// <summary>Gives the exchange its request id and sets the <c>request-id</c> header every response carries.</summary>
    public static string AssignRequestId(HttpContext context)
    {
        var id = NewId("req_");
        context.Items[RequestIdKey] = id;
        context.Response.Headers["request-id"] = id;
        return id;
    }

    public static string RequestId(HttpContext context) => (string)context.Items[RequestIdKey]!;

    /// <summary>Reads the whole body, or returns null (after draining it) when it is over the limit.</summary>
    public static async Task<byte[]?> ReadBodyAsync(HttpContext context, long limit, CancellationToken cancellationToken)
    {
        var declared = context.Request.ContentLength;
        using var buffer = new MemoryStream(declared is { } d && d <= limit ? (int)d : 4096);
        var chunk = new byte[81920];
        var tooLarge = declared > limit;
        long total = 0;
        int read;
        while ((read = await context.Request.Body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            total += read;
            if (total > limit)
            {
                tooLarge = true;
            }
            if (!tooLarge)
            {
                buffer.Write(chunk, 0, read);
            }
            else if (total > limit * 2)
            {
                // Drained enough to answer cleanly; a client still sending is cut off.
                break;
            }
        }
        return tooLarge ? null : buffer.ToArray();
    }

    /// <summary>The caller's API key from <c>Authorization: Bearer</c> (SDK 13.x) or <c>x-api-key</c> (older clients).</summary>
    public static string? ApiKey(HttpRequest request)
    {
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            var key = authorization["Bearer ".Length..].Trim();
            if (key.Length > 0)
            {
                return key;
            }
        }
        var apiKey = request.Headers["x-api-key"].ToString().Trim();
        return apiKey.Length > 0 ? apiKey : null;
    }

    public static Task WriteErrorAsync(HttpContext context, ApiError error, CancellationToken cancellationToken)
    {
        if (error.Status == 429 && context.Items[RetryAfterKey] is TimeSpan retryAfter)
        {
            context.Response.Headers["retry-after"] = Math.Max(1, (long)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
            context.Response.Headers["retry-after-ms"] = ((long)retryAfter.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
        }
        return WriteJsonAsync(context, error.Status, ResponseJson.Write(w => ResponseJson.WriteError(w, error, RequestId(context))), cancellationToken);
    }

    public const string RetryAfterKey = "emulator.retry-after";

    public static async Task WriteJsonAsync(HttpContext context, int status, string json, CancellationToken cancellationToken)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        var bytes = Encoding.UTF8.GetBytes(json);
        context.Response.ContentLength = bytes.Length;
        await context.Response.Body.WriteAsync(bytes, cancellationToken);
    }
}
