using System.Text;

namespace ConversationLedger.Emulator;

/// <summary>One <c>/v1/messages</c> request as received, before any check.</summary>
/// <param name="RequestId">The request id the emulator answered with (req_…).</param>
/// <param name="ReceivedAt">When it arrived, by the emulator's clock.</param>
/// <param name="Stream">Whether the body asked for a stream (false when the body could not be read).</param>
/// <param name="Headers">The request headers, lower-case names; credentials are redacted.</param>
/// <param name="Body">The body as text, exactly as received.</param>
public sealed record LoggedRequest(string RequestId, DateTimeOffset ReceivedAt, bool Stream, IReadOnlyDictionary<string, string> Headers, string Body);

/// <summary>
/// The log of the newest <c>/v1/messages</c> requests received (retries and rejected requests included), bounded by
/// a number of requests and a number of bytes: the oldest are evicted first. Thread-safe.
/// </summary>
public sealed class RequestLog
{
    private readonly Queue<(LoggedRequest Request, long Bytes)> _entries = new();
    private readonly Lock _lock = new();
    private long _bytes;
    private long _received;

    /// <summary>Creates a log.</summary>
    /// <param name="maxRequests">The most requests kept (0 keeps none).</param>
    /// <param name="maxBytes">The most bytes (UTF-8 bodies, header names and values) kept; a request larger than this on its own is not kept.</param>
    public RequestLog(int maxRequests, long maxBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxRequests);
        ArgumentOutOfRangeException.ThrowIfNegative(maxBytes);
        MaxRequests = maxRequests;
        MaxBytes = maxBytes;
    }

    /// <summary>The most requests kept.</summary>
    public int MaxRequests { get; }

    /// <summary>The most bytes (UTF-8 bodies, header names and values) kept.</summary>
    public long MaxBytes { get; }

    /// <summary>The number of logged requests.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>The bytes the logged requests take (UTF-8 bodies, header names and values).</summary>
    public long Bytes
    {
        get
        {
            lock (_lock)
            {
                return _bytes;
            }
        }
    }

    /// <summary>Every request added since the log was created, evicted and cleared ones included.</summary>
    public long Received
    {
        get
        {
            lock (_lock)
            {
                return _received;
            }
        }
    }

    /// <summary>A copy of the log, oldest first.</summary>
    public IReadOnlyList<LoggedRequest> Snapshot()
    {
        lock (_lock)
        {
            return _entries.Select(e => e.Request).ToArray();
        }
    }

    /// <summary>Adds a request, evicting the oldest while the log is over either limit.</summary>
    public void Add(LoggedRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var bytes = Size(request);
        lock (_lock)
        {
            _received++;
            if (bytes > MaxBytes || MaxRequests == 0)
            {
                return;
            }
            _entries.Enqueue((request, bytes));
            _bytes += bytes;
            while (_entries.Count > MaxRequests || _bytes > MaxBytes)
            {
                _bytes -= _entries.Dequeue().Bytes;
            }
        }
    }

    /// <summary>Empties the log.</summary>
    public void Clear()
    {
        lock (_lock)
        {
            _entries.Clear();
            _bytes = 0;
        }
    }

    private static long Size(LoggedRequest request) =>
        Encoding.UTF8.GetByteCount(request.Body) + request.Headers.Sum(h => (long)Encoding.UTF8.GetByteCount(h.Key) + Encoding.UTF8.GetByteCount(h.Value));
}
