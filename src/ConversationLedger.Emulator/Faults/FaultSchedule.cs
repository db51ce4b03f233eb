namespace ConversationLedger.Emulator;

/// <summary>
/// Faults planned for coming <c>/v1/messages</c> requests: a FIFO queue (one fault per request) and,
/// once the queue is empty, an optional random fault at a rate from a seeded generator (so a run is repeatable).
/// A request carrying an <c>x-emulator-fault</c> header uses that instead and consumes nothing. Thread-safe.
/// </summary>
public sealed class FaultSchedule
{
    private readonly Queue<FaultSpec> _queue = new();
    private readonly Lock _lock = new();
    private RandomFault? _random;

    /// <summary>Faults still queued.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _queue.Count;
            }
        }
    }

    /// <summary>Queues one fault per spec, for the next requests in order.</summary>
    /// <exception cref="FormatException">A spec is not valid.</exception>
    public void Enqueue(params IEnumerable<string> specs)
    {
        ArgumentNullException.ThrowIfNull(specs);
        var parsed = specs.Select(FaultSpec.Parse).ToList();
        lock (_lock)
        {
            foreach (var spec in parsed)
            {
                _queue.Enqueue(spec);
            }
        }
    }

    /// <summary>Queues the same fault for the next <paramref name="count"/> requests.</summary>
    public void Enqueue(string spec, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        Enqueue(Enumerable.Repeat(spec, count));
    }

    /// <summary>
    /// Applies <paramref name="spec"/> to a share <paramref name="rate"/> (0…1) of the requests that find the queue
    /// empty, chosen by a generator seeded with <paramref name="seed"/>; a rate of 0 turns it off.
    /// </summary>
    public void SetRate(string spec, double rate, int seed = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rate);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(rate, 1);
        var parsed = FaultSpec.Parse(spec);
        lock (_lock)
        {
            _random = rate == 0 ? null : new RandomFault(parsed, rate, new Random(seed));
        }
    }

    /// <summary>Removes every queued fault and the rate.</summary>
    public void Clear()
    {
        lock (_lock)
        {
            _queue.Clear();
            _random = null;
        }
    }

    /// <summary>The fault for the next request (<see cref="FaultSpec.None"/> when nothing is planned).</summary>
    public FaultSpec Next()
    {
        lock (_lock)
        {
            if (_queue.TryDequeue(out var spec))
            {
                return spec;
            }
            return _random is { } r && r.Generator.NextDouble() < r.Rate ? r.Spec : FaultSpec.None;
        }
    }

    private sealed record RandomFault(FaultSpec Spec, double Rate, Random Generator);
}
