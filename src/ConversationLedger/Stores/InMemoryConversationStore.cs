using ConversationLedger.Storage;

namespace ConversationLedger;

/// <summary>
/// A store in process memory, implementing the whole store contract; for tests, demos and short-lived
/// processes. Thread-safe: each thread has its own lock, so writers to different threads never wait on each other.
/// Windows are found by binary search over the running sums, so a windowed read does not scan the thread.
/// </summary>
public sealed class InMemoryConversationStore(TimeProvider? timeProvider = null) : IConversationStore
{
    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<ThreadKey, ThreadState> _threads = new();

    // Turn leases, apart from the threads: a lease may be taken before a thread's first entry and outlives nothing.
    private readonly Dictionary<ThreadKey, (string Holder, DateTimeOffset ExpiresAt)> _leases = [];

    /// <inheritdoc />
    public Task<ThreadHead> GetHeadAsync(ThreadKey key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        cancellationToken.ThrowIfCancellationRequested();
        if (!_threads.TryGetValue(key, out var state))
        {
            return Task.FromResult(ThreadHead.Empty(key));
        }
        lock (state)
        {
            return Task.FromResult(state.Head);
        }
    }

    /// <inheritdoc />
    public Task<AppendResult> AppendAsync(ThreadKey key, long expectedSequence, IReadOnlyList<LedgerEntry> entries, CancellationToken cancellationToken = default)
    {
        StoreArguments.CheckAppend(key, expectedSequence, entries);
        cancellationToken.ThrowIfCancellationRequested();
        var state = _threads.GetOrAdd(key, k => new ThreadState(ThreadHead.Empty(k)));
        lock (state)
        {
            if (state.Deleted)
            {
                // Lost a race with a delete: start over on a fresh state.
                return AppendAsync(key, expectedSequence, entries, cancellationToken);
            }
            StoreConditions.ThrowIfMoved(state.Head, expectedSequence);
            var (stamped, head) = state.Head.Advance(entries, _time.GetUtcNow());
            state.Add(stamped, head);
            return Task.FromResult(new AppendResult(stamped, head));
        }
    }

    /// <inheritdoc />
    public async Task<AppendResult> AppendAndReleaseTurnLeaseAsync(ThreadKey key, long expectedSequence, IReadOnlyList<LedgerEntry> entries, string holder,
        CancellationToken cancellationToken = default)
    {
        StoreArguments.CheckLease(key, holder);
        // The lease is looked at only after the append stored, and nothing else can fail in between.
        var stored = await AppendAsync(key, expectedSequence, entries, cancellationToken);
        await ReleaseTurnLeaseAsync(key, holder, CancellationToken.None);
        return stored with { LeaseReleased = true };
    }

    /// <inheritdoc />
    public Task<ThreadWindow> ReadWindowAsync(ThreadKey key, WindowSpec window, CancellationToken cancellationToken = default)
    {
        StoreArguments.CheckWindow(key, window);
        cancellationToken.ThrowIfCancellationRequested();
        if (!_threads.TryGetValue(key, out var state))
        {
            return Task.FromResult(new ThreadWindow(ThreadHead.Empty(key), []));
        }
        lock (state)
        {
            return Task.FromResult(new ThreadWindow(state.Head, state.Window(window)));
        }
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<LedgerEntry>> ReadEntriesAsync(ThreadKey key, long afterSequence, int limit, CancellationToken cancellationToken = default)
    {
        StoreArguments.CheckEntries(key, afterSequence, limit);
        cancellationToken.ThrowIfCancellationRequested();
        if (!_threads.TryGetValue(key, out var state))
        {
            return Task.FromResult<IReadOnlyList<LedgerEntry>>([]);
        }
        lock (state)
        {
            var start = (int)Math.Min(afterSequence, state.Entries.Count);
            var count = Math.Min(limit, state.Entries.Count - start);
            return Task.FromResult<IReadOnlyList<LedgerEntry>>(state.Entries.GetRange(start, count).ToArray());
        }
    }

    /// <inheritdoc />
    public Task<ThreadPage> ListThreadsAsync(string tenant, string? scope, PageRequest page, CancellationToken cancellationToken = default)
    {
        var (after, limit) = StoreArguments.CheckList(tenant, page);
        cancellationToken.ThrowIfCancellationRequested();
        var heads = new List<ThreadHead>();
        foreach (var (key, state) in _threads)
        {
            if (key.Tenant != tenant || (scope is not null && key.Scope != scope))
            {
                continue;
            }
            lock (state)
            {
                if (state.Head.Exists && !state.Deleted)
                {
                    heads.Add(state.Head);
                }
            }
        }
        var ordered = heads
            .Where(h => after is null || after.Precedes(h))
            .OrderByDescending(h => h.UpdatedAt.UtcTicks)
            .ThenBy(h => h.Key.Scope, StringComparer.Ordinal)
            .ThenBy(h => h.Key.ThreadId, StringComparer.Ordinal)
            .Take(limit + 1)
            .ToList();
        return Task.FromResult(ThreadCursor.PageFromOneMore(ordered, limit));
    }

    /// <inheritdoc />
    public Task<ThreadHead> ForkAsync(ThreadKey source, long atSequence, ThreadKey target, CancellationToken cancellationToken = default)
    {
        StoreArguments.CheckFork(source, target);
        cancellationToken.ThrowIfCancellationRequested();
        var sourceHead = ThreadHead.Empty(source);
        List<LedgerEntry> prefix = [];
        if (_threads.TryGetValue(source, out var from))
        {
            lock (from)
            {
                sourceHead = from.Head;
                prefix = from.Entries.GetRange(0, (int)Math.Clamp(atSequence, 0, from.Entries.Count));
            }
        }
        StoreConditions.ThrowIfNoForkPoint(sourceHead, atSequence);
        var state = _threads.GetOrAdd(target, k => new ThreadState(ThreadHead.Empty(k)));
        lock (state)
        {
            StoreConditions.ThrowIfForkTargetExists(state.Head);
            var copied = ThreadHeads.Copied(target, prefix);
            var (stamped, head) = copied.Fork(source, atSequence, _time.GetUtcNow());
            state.Add(prefix, copied);
            state.Add(stamped, head);
            return Task.FromResult(state.Head);
        }
    }

    /// <inheritdoc />
    public Task<bool> DeleteThreadAsync(ThreadKey key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(Remove(key));
    }

    /// <inheritdoc />
    public Task<int> DeleteTenantAsync(string tenant, CancellationToken cancellationToken = default)
    {
        ThreadKey.CheckPart(tenant, nameof(tenant));
        cancellationToken.ThrowIfCancellationRequested();
        var count = _threads.Keys.Where(k => k.Tenant == tenant).Count(Remove);
        lock (_leases)
        {
            foreach (var leased in _leases.Keys.Where(k => k.Tenant == tenant).ToArray())
            {
                _leases.Remove(leased);
            }
        }
        return Task.FromResult(count);
    }

    /// <inheritdoc />
    public Task<bool> TryAcquireTurnLeaseAsync(ThreadKey key, string holder, TimeSpan duration, CancellationToken cancellationToken = default)
    {
        StoreArguments.CheckLease(key, holder, duration);
        cancellationToken.ThrowIfCancellationRequested();
        var now = _time.GetUtcNow();
        lock (_leases)
        {
            if (_leases.TryGetValue(key, out var lease) && lease.Holder != holder && lease.ExpiresAt > now)
            {
                return Task.FromResult(false);
            }
            _leases[key] = (holder, now + duration);
            return Task.FromResult(true);
        }
    }

    /// <inheritdoc />
    public Task<bool> ReleaseTurnLeaseAsync(ThreadKey key, string holder, CancellationToken cancellationToken = default)
    {
        StoreArguments.CheckLease(key, holder);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_leases)
        {
            return Task.FromResult(_leases.TryGetValue(key, out var lease) && lease.Holder == holder && _leases.Remove(key));
        }
    }

    private bool Remove(ThreadKey key)
    {
        if (!_threads.TryRemove(key, out var state))
        {
            return false;
        }
        lock (state)
        {
            state.Deleted = true;
            return state.Head.Exists;
        }
    }

    private sealed class ThreadState(ThreadHead head)
    {
        public ThreadHead Head { get; private set; } = head;

        public List<LedgerEntry> Entries { get; } = [];

        public bool Deleted { get; set; }

        // Indexes so that a window read touches only what it returns.
        private readonly List<int> _messageIndexes = [];
        private readonly List<int> _pinIndexes = [];
        private readonly Dictionary<long, List<int>> _editsByTarget = [];
        private int _systemPromptIndex = -1;
        private int _summaryIndex = -1;

        public void Add(IReadOnlyList<LedgerEntry> entries, ThreadHead head)
        {
            foreach (var entry in entries)
            {
                var index = Entries.Count;
                Entries.Add(entry);
                switch (entry)
                {
                    case MessageEntry:
                        _messageIndexes.Add(index);
                        break;
                    case PinEntry:
                        _pinIndexes.Add(index);
                        break;
                    case EditEntry e:
                        if (!_editsByTarget.TryGetValue(e.Target, out var list))
                        {
                            _editsByTarget[e.Target] = list = [];
                        }
                        list.Add(index);
                        break;
                    case SystemPromptEntry:
                        _systemPromptIndex = index;
                        break;
                    case SummaryEntry:
                        _summaryIndex = index;
                        break;
                }
            }
            Head = head;
        }

        public IReadOnlyList<LedgerEntry> Window(WindowSpec spec)
        {
            var boundary = Head.ResetSequence;
            var picked = new SortedDictionary<long, LedgerEntry>();
            void Take(int index) => picked[Entries[index].Sequence] = Entries[index];

            if (_systemPromptIndex >= 0)
            {
                Take(_systemPromptIndex);
            }
            if (boundary > 0)
            {
                Take((int)boundary - 1);
            }
            if (_summaryIndex >= 0 && Entries[_summaryIndex].Sequence > boundary)
            {
                Take(_summaryIndex);
            }
            foreach (var index in _pinIndexes.Where(i => Entries[i].Sequence > boundary))
            {
                Take(index);
                var target = ((PinEntry)Entries[index]).Target;
                if (target >= 1 && target <= Entries.Count && Entries[(int)target - 1] is MessageEntry)
                {
                    Take((int)target - 1);
                }
            }

            var first = FirstWindowMessage(spec, boundary);
            for (var i = first; i < _messageIndexes.Count; i++)
            {
                Take(_messageIndexes[i]);
            }
            foreach (var sequence in picked.Where(p => p.Value is MessageEntry).Select(p => p.Key).ToList())
            {
                if (_editsByTarget.TryGetValue(sequence, out var edits))
                {
                    edits.ForEach(Take);
                }
            }
            return picked.Values.ToArray();
        }

        // The position in _messageIndexes of the window's first message. A message's ordinal is its position + 1 (every
        // thread numbers its messages 1, 2, …), so the stores' ordinal arithmetic applies as it is.
        private int FirstWindowMessage(WindowSpec spec, long boundary)
        {
            var messagesAtReset = boundary > 0 ? Entries[(int)boundary - 1].RunningMessages : 0;
            long? firstInBudget = null;
            if (spec.LastTokens is { } budget)
            {
                var floor = Head.RunningTokens - budget;
                var position = LowerBound(i =>
                {
                    var e = Entries[_messageIndexes[i]];
                    return e.RunningTokens - e.Tokens >= floor;
                });
                firstInBudget = position < _messageIndexes.Count ? position + 1 : null;
            }
            var lo = WindowBounds.FirstMessage(spec, Head, messagesAtReset, firstInBudget);
            return (int)Math.Min(lo - 1, _messageIndexes.Count);
        }

        // The first position where the monotonic predicate holds.
        private int LowerBound(Func<int, bool> holds)
        {
            int lo = 0, hi = _messageIndexes.Count;
            while (lo < hi)
            {
                var mid = (lo + hi) / 2;
                if (holds(mid))
                {
                    hi = mid;
                }
                else
                {
                    lo = mid + 1;
                }
            }
            return lo;
        }
    }
}
