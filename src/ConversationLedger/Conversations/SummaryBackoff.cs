namespace ConversationLedger;

/// <summary>
/// After a failed summary, a thread's next summaries wait 1, 2, 4 … up to 32 turns of this process, so a summary that
/// keeps failing (an outage, a request the model refuses) is neither paid for nor waited on every turn. Thread-safe;
/// bounded by the threads whose summaries are failing.
/// </summary>
internal sealed class SummaryBackoff
{
    private const int MaxSkippedTurns = 32;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<ThreadKey, State> _threads = new();

    /// <summary>Whether this turn may try; a turn that may not counts down the wait.</summary>
    public bool ShouldTry(ThreadKey key)
    {
        while (_threads.TryGetValue(key, out var state) && state.Remaining > 0)
        {
            if (_threads.TryUpdate(key, state with { Remaining = state.Remaining - 1 }, state))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Records a failure; returns how many turns the next attempt waits.</summary>
    public int Failed(ThreadKey key)
    {
        var state = _threads.AddOrUpdate(key, new State(1, 1), (_, old) =>
        {
            var wait = Math.Min(old.Wait * 2, MaxSkippedTurns);
            return new State(wait, wait);
        });
        return state.Wait;
    }

    /// <summary>Forgets a thread's failures.</summary>
    public void Succeeded(ThreadKey key) => _threads.TryRemove(key, out _);

    private sealed record State(int Wait, int Remaining);
}
