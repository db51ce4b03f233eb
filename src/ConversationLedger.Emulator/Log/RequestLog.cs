namespace ConversationLedger.Emulator;

/// <summary>One <c>/v1/messages</c> request as received, before any check.</summary>
/// <param name="RequestId">The request id the emulator answered with (req_…).</param>
/// <param name="ReceivedAt">When it arrived, by the emulator's clock.</param>
/// <param name="Stream">Whether the body asked for a stream (false when the body could not be read).</param>
/// <param name="Headers">The request headers, lower-case names; credentials are redacted.</param>
/// <param name="Body">The body as text, exactly as received.</param>
public sealed record LoggedRequest(string RequestId, DateTimeOffset ReceivedAt, bool Stream, IReadOnlyDictionary<string, string> Headers, string Body);

/// <summary>The log of received <c>/v1/messages</c> requests (retries and rejected requests included). Thread-safe.</summary>
public sealed class RequestLog
{
    private readonly List<LoggedRequest> _entries = [];
    private readonly Lock _lock = new();

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

    /// <summary>A copy of the log, oldest first.</summary>
    public IReadOnlyList<LoggedRequest> Snapshot()
    {
        lock (_lock)
        {
            return _entries.ToArray();
        }
    }

    /// <summary>Adds a request.</summary>
    public void Add(LoggedRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        lock (_lock)
        {
            _entries.Add(request);
        }
    }

    /// <summary>Empties the log.</summary>
    public void Clear()
    {
        lock (_lock)
        {
            _entries.Clear();
        }
    }
}
