namespace ConversationLedger.Tests.TestSupport;

/// <summary>What became of one send: its turn, or the exception it threw.</summary>
internal sealed record Outcome(TurnResult? Turn, Exception? Error)
{
    public static async Task<Outcome> Of(Task<TurnResult> send)
    {
        try
        {
            return new Outcome(await send, null);
        }
#pragma warning disable CA1031 // The test inspects whatever the send threw.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            return new Outcome(null, ex);
        }
    }
}

/// <summary>A model call that waits until the test lets it answer, so that several sends can be in flight together.</summary>
internal sealed class Gate
{
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly int _expected;
    private int _arrived;

    public Gate(int expected) => _expected = expected;

    public int Arrived => Volatile.Read(ref _arrived);

    /// <summary>Completes once the expected number of calls are waiting.</summary>
    public Task AllArrived => _reached.Task.WaitAsync(TimeSpan.FromSeconds(10));

    public async Task PassAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Increment(ref _arrived) == _expected)
        {
            _reached.TrySetResult();
        }
        await _release.Task.WaitAsync(cancellationToken);
    }

    public void Open() => _release.TrySetResult();
}
