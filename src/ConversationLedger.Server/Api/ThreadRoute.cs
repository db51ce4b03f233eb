using Microsoft.AspNetCore.Http.Features;

namespace ConversationLedger.Server.Api;

/// <summary>
/// The thread a route names: <c>/v1/threads/{scope}/{id}/…</c>, each part percent-encoded by the client, with the tenant from
/// the credentials. The parts are decoded from the raw request target: the server leaves <c>%2F</c> encoded in the path it
/// routes on, so decoding the routed values would make <c>a%2Fb</c> and <c>a%252Fb</c> the same id.
/// </summary>
internal static class ThreadRoute
{
    /// <summary>The key of the thread the request names, in <paramref name="tenant"/>.</summary>
    /// <exception cref="ArgumentException">A part is not a valid id (empty, too long, control characters, invalid Unicode), naming it.</exception>
    public static ThreadKey Key(HttpContext context, string tenant)
    {
        ArgumentNullException.ThrowIfNull(context);
        var raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? context.Request.Path.Value ?? "";
        var path = raw.Split('?', 2)[0];
        var segments = path.Split('/');
        // "", "v1", "threads", scope, id, …
        var at = Array.IndexOf(segments, "threads");
        if (at < 0 || segments.Length < at + 3)
        {
            throw new ArgumentException("the path must name a thread as /v1/threads/{scope}/{id}", "thread_id");
        }
        var scope = Decode(segments[at + 1], "scope");
        var id = Decode(segments[at + 2], "thread_id");
        // The router normalizes "." and ".." segments away and reads invalid UTF-8 its own way: such a path names no thread.
        if (!Same(context.GetRouteValue("scope"), scope) || !Same(context.GetRouteValue("id"), id))
        {
            throw new ArgumentException("the scope or thread id in the path cannot be read: \".\" and \"..\" cannot be named in a path, and escapes must be UTF-8", "thread_id");
        }
        return new ThreadKey(tenant, scope, id);
    }

    /// <summary>The path of a thread's resource, its parts percent-encoded.</summary>
    public static string PathOf(ThreadKey key, string? suffix = null)
    {
        ArgumentNullException.ThrowIfNull(key);
        return $"/v1/threads/{Uri.EscapeDataString(key.Scope)}/{Uri.EscapeDataString(key.ThreadId)}{suffix}";
    }

    private static string Decode(string segment, string field)
    {
        try
        {
            return Uri.UnescapeDataString(segment);
        }
        catch (UriFormatException ex)
        {
            throw new ArgumentException($"the {field} is not validly percent-encoded: {ex.Message}", field);
        }
    }

    // The routed value keeps %2F encoded and has every other escape decoded.
    private static bool Same(object? routed, string decoded) =>
        routed is string value && string.Equals(value.Replace("%2F", "/", StringComparison.OrdinalIgnoreCase), decoded, StringComparison.Ordinal)
        || routed is string exact && string.Equals(exact, decoded, StringComparison.Ordinal);
}
