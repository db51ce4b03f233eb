using System.Diagnostics;

namespace ConversationLedger.Benchmarks;

/// <summary>One client of a closed-loop run: sends one operation and waits for its answer. Used by one thread only.</summary>
internal interface ILoadClient : IDisposable
{
    /// <summary>Sends operation <paramref name="n"/> of this client; returns null when it succeeded, else what went wrong.</summary>
    string? Send(long n);
}

/// <summary>When a run's measured window opens and closes (Stopwatch timestamps), known once every client is ready.</summary>
internal sealed class LoadWindow
{
    public long From { get; internal set; } = long.MaxValue;

    public long Until { get; internal set; } = long.MaxValue;

    /// <summary>Whether something that ended at <paramref name="timestamp"/> falls in the measured window.</summary>
    public bool Contains(long timestamp) => timestamp > From && timestamp <= Until;
}

/// <summary>
/// What a closed-loop run did: operations completed in the measured window and their latencies; every operation that
/// succeeded (warm-up and stragglers included, for per-operation counters); every error.
/// </summary>
internal sealed record LoadResult(long Operations, long Succeeded, long Errors, double Seconds, double[] LatenciesMs, string? FirstError)
{
    /// <summary>How long the clients ran before the measured window opened.</summary>
    public double WarmUpSeconds { get; init; }

    public double PerSecond => Operations / Seconds;

    /// <summary>The latency below which <paramref name="p"/> (0–1) of the measured operations finished (nearest rank).</summary>
    public double Percentile(double p)
    {
        if (LatenciesMs.Length == 0)
        {
            return double.NaN;
        }
        var rank = (int)Math.Ceiling(p * LatenciesMs.Length) - 1;
        return LatenciesMs[Math.Clamp(rank, 0, LatenciesMs.Length - 1)];
    }
}

/// <summary>
/// A closed loop of N clients, each on a thread of its own: all threads are created and their clients set up (connections
/// opened, threads created) before any sends; then each sends, waits for the answer and sends again, for a warm-up and then
/// the measured window. Only operations that end inside the window count toward the rate and the latencies; errors count
/// whenever they happen (warm-up included), so "0 errors" means none at all.
/// </summary>
internal static class ClosedLoop
{
    /// <param name="clients">How many clients (threads).</param>
    /// <param name="warmUp">Sent but not measured, after every client is ready.</param>
    /// <param name="duration">The measured window.</param>
    /// <param name="create">Creates client <c>i</c>, on its own thread (set-up work happens there, before the start).</param>
    /// <param name="atWindowStart">Called (on the caller's thread) as the measured window opens.</param>
    /// <param name="atWindowEnd">Called as it closes (clients may still be finishing their last operation).</param>
    /// <param name="settled">
    /// When given, the warm-up goes on past <paramref name="warmUp"/> until this says the system has settled: it is asked every
    /// 5 s with the number of operations completed so far (and the window opens at the latest after <paramref name="maxWarmUp"/>).
    /// </param>
    /// <param name="maxWarmUp">The longest warm-up with <paramref name="settled"/>.</param>
    public static LoadResult Run(int clients, TimeSpan warmUp, TimeSpan duration, Func<int, LoadWindow, ILoadClient> create,
        Action? atWindowStart = null, Action? atWindowEnd = null, Func<long, bool>? settled = null, TimeSpan? maxWarmUp = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(clients);
        var window = new LoadWindow();
        using var ready = new CountdownEvent(clients);
        using var go = new ManualResetEventSlim();
        var latencies = new List<double>[clients];
        var counts = new long[clients];
        var errors = new long[clients];
        string? firstError = null;

        void Fail(string error)
        {
            Interlocked.CompareExchange(ref firstError, error, null);
        }

        var threads = Enumerable.Range(0, clients).Select(i => new Thread(() =>
        {
            latencies[i] = [];
            ILoadClient? client = null;
            try
            {
                client = create(i, window);
            }
            catch (Exception ex)
            {
                errors[i]++;
                Fail($"client {i} could not start: {ex.GetType().Name}: {ex.Message}");
            }
            finally
            {
                ready.Signal();
            }
            if (client is null)
            {
                return;
            }
            using (client)
            {
                go.Wait();
                for (long n = 0; ; n++)
                {
                    var started = Stopwatch.GetTimestamp();
                    if (started >= window.Until)
                    {
                        break;
                    }
                    string? error;
                    try
                    {
                        error = client.Send(n);
                    }
                    catch (Exception ex)
                    {
                        error = $"{ex.GetType().Name}: {ex.Message}";
                    }
                    var ended = Stopwatch.GetTimestamp();
                    counts[i]++;
                    if (error is not null)
                    {
                        errors[i]++;
                        Fail($"client {i}, operation {n}: {error}");
                    }
                    else if (window.Contains(ended))
                    {
                        latencies[i].Add(Stopwatch.GetElapsedTime(started, ended).TotalMilliseconds);
                    }
                }
            }
        })
        { IsBackground = true, Name = $"load client {i}" }).ToArray();

        foreach (var thread in threads)
        {
            thread.Start();
        }
        ready.Wait();
        var started = Stopwatch.GetTimestamp();
        go.Set();
        SleepUntil(started + (long)(warmUp.TotalSeconds * Stopwatch.Frequency));
        if (settled is not null)
        {
            var latest = started + (long)((maxWarmUp ?? warmUp).TotalSeconds * Stopwatch.Frequency);
            settled(counts.Sum());
            while (Stopwatch.GetTimestamp() < latest)
            {
                Thread.Sleep(TimeSpan.FromSeconds(5));
                if (settled(counts.Sum()))
                {
                    break;
                }
            }
        }
        var from = Stopwatch.GetTimestamp();
        // Until first: a client that sees the new From already sees the window's end.
        window.Until = from + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        window.From = from;
        atWindowStart?.Invoke();
        SleepUntil(window.Until);
        atWindowEnd?.Invoke();
        foreach (var thread in threads)
        {
            thread.Join();
        }

        var all = latencies.SelectMany(l => l).ToArray();
        Array.Sort(all);
        var failed = errors.Sum();
        return new LoadResult(all.Length, counts.Sum() - failed, failed, duration.TotalSeconds, all, firstError)
        {
            WarmUpSeconds = Stopwatch.GetElapsedTime(started, from).TotalSeconds,
        };
    }

    private static void SleepUntil(long timestamp)
    {
        var left = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), timestamp);
        if (left > TimeSpan.Zero)
        {
            Thread.Sleep(left);
        }
    }
}
