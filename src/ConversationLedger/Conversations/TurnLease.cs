namespace ConversationLedger;

/// <summary>
/// A turn's hold on its thread's lease in the store, taken with the first window the turn reads
/// (<see cref="IConversationStore.TryAcquireTurnLeaseAndReadWindowAsync"/>) and held until the turn is committed or given up.
/// Renewed every third of its duration while held, so a long or streamed turn keeps it; released by the append that commits
/// the turn (<see cref="AppendAsync"/>) or, failing that, when disposed. If renewal fails (the store was unreachable longer
/// than the lease), the turn goes on: the expected sequence at commit still refuses a turn that another writer overtook.
/// </summary>
internal sealed class TurnLease : IAsyncDisposable
{
    // The longest pause between two looks at a busy lease while waiting for it.
    private static readonly TimeSpan MaxPoll = TimeSpan.FromMilliseconds(500);

    // How long a release may take before it is left to expiry (the caller's token may already be cancelled).
    private static readonly TimeSpan ReleaseTimeout = TimeSpan.FromSeconds(10);

    private readonly IConversationStore _store;
    private readonly ThreadKey _key;
    private readonly string _holder;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _renewing = new(1, 1);
    private readonly Task _renewal;
    private volatile bool _released;
    private (WindowSpec Spec, ThreadWindow Window)? _firstRead;

    private TurnLease(IConversationStore store, ThreadKey key, string holder, TimeSpan duration, bool renew, (WindowSpec, ThreadWindow) firstRead)
    {
        _store = store;
        _key = key;
        _holder = holder;
        _firstRead = firstRead;
        _renewal = renew ? RenewAsync(duration / 3, duration, _stop.Token) : Task.CompletedTask;
    }

    /// <summary>
    /// Takes the lease with the window <paramref name="read"/> (for <see cref="TakeFirstRead"/>), timed by
    /// <paramref name="telemetry"/> as the store operation <c>lease_and_read_window</c>, or returns null when another turn holds
    /// it. With <paramref name="renew"/> false (a lease whose disposal is up to a caller) it is not renewed, so it expires if
    /// forgotten.
    /// </summary>
    public static async Task<TurnLease?> TryTakeAsync(IConversationStore store, ThreadKey key, TimeSpan duration, WindowSpec read, LedgerTelemetry telemetry,
        bool renew, CancellationToken cancellationToken)
    {
        var holder = Guid.CreateVersion7().ToString("N");
        return await telemetry.StoreAsync("lease_and_read_window", () => store.TryAcquireTurnLeaseAndReadWindowAsync(key, holder, duration, read, cancellationToken))
            is { } window
            ? new TurnLease(store, key, holder, duration, renew, (read, window))
            : null;
    }

    /// <summary>
    /// The window read as the lease was taken, once, when <paramref name="spec"/> is the one read; later reads (a retry after a
    /// conflict, a summary folded in) must see the thread as it is by then.
    /// </summary>
    public ThreadWindow? TakeFirstRead(WindowSpec spec)
    {
        if (_firstRead is not { } first || first.Spec != spec)
        {
            return null;
        }
        _firstRead = null;
        return first.Window;
    }

    /// <summary>Takes the lease, waiting (bounded only by <paramref name="cancellationToken"/>) while another turn holds it.</summary>
    public static async Task<TurnLease> TakeAsync(IConversationStore store, ThreadKey key, TimeSpan duration, WindowSpec read, LedgerTelemetry telemetry,
        bool renew, CancellationToken cancellationToken)
    {
        // The lease lives in the store, which cannot wake a waiter: look again after a short, growing pause. Jitter keeps
        // waiters in several processes from looking in lockstep.
        var pause = TimeSpan.FromMilliseconds(10);
        while (true)
        {
            if (await TryTakeAsync(store, key, duration, read, telemetry, renew, cancellationToken) is { } lease)
            {
                return lease;
            }
            await Task.Delay(pause * (0.5 + Random.Shared.NextDouble()), cancellationToken);
            pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, MaxPoll.Ticks));
        }
    }

    /// <summary>
    /// Commits through <paramref name="append"/>, an append that also releases this lease when it stores
    /// (<see cref="IConversationStore.AppendAndReleaseTurnLeaseAsync"/>, given the holder). Renewal waits meanwhile, so none
    /// can take the lease again once the append let it go; a lease the append released is not released again.
    /// </summary>
    public async Task<AppendResult> AppendAsync(Func<string, Task<AppendResult>> append)
    {
        if (_stop.IsCancellationRequested)
        {
            return await append(_holder); // disposed already (a pending turn disposed, then committed): nothing renews it
        }
        await _renewing.WaitAsync();
        try
        {
            var stored = await append(_holder);
            _released = stored.LeaseReleased;
            return stored;
        }
        finally
        {
            _renewing.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }
        await _stop.CancelAsync();
        await _renewal;
        _stop.Dispose();
        _renewing.Dispose();
        if (_released)
        {
            return;
        }
        using var timeout = new CancellationTokenSource(ReleaseTimeout);
        try
        {
            await _store.ReleaseTurnLeaseAsync(_key, _holder, timeout.Token);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Nothing to do: the lease expires on its own, and the turn's outcome must not be replaced by this error.
        }
    }

    private async Task RenewAsync(TimeSpan every, TimeSpan duration, CancellationToken stop)
    {
        try
        {
            while (true)
            {
                await Task.Delay(every, stop);
                await _renewing.WaitAsync(stop);
                try
                {
                    if (_released || !await _store.TryAcquireTurnLeaseAsync(_key, _holder, duration, stop))
                    {
                        return; // released by the commit, or lost (it expired and another turn took it: the commit's sequence check decides)
                    }
                }
                finally
                {
                    _renewing.Release();
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // A store error while renewing: stop renewing and let the commit decide, as above.
        }
    }
}
