using System.Collections.Concurrent;
using System.Diagnostics;
using ConversationLedger.Postgres;
using ConversationLedger.Redis;
using Npgsql;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace ConversationLedger.Stores.Tests;

/// <summary>
/// Durability when the database server itself dies: writers (tasks in this process, through <see cref="Ledger"/> with a fake
/// model) send turns on a few threads while a private server of the test's own (<see cref="PrivateServer"/>) is killed with
/// SIGKILL at random moments and started again on the same data. Writers must see errors, never hang; afterwards every
/// acknowledged turn is stored exactly once at its sequence, no turn is stored in part, sequences are contiguous, every
/// history validates, and after each restart every thread takes turns again within a few turn leases (a lease held at the
/// crash expires). CI: 2 kills per server; LEDGER_LONG_TESTS=1: 20 (docs/reliability.md).
/// </summary>
public sealed class ServerCrashTests(ITestOutputHelper output)
{
    private const int Threads = 4;
    private const int Writers = 8;
    private static readonly bool LongTests = Environment.GetEnvironmentVariable("LEDGER_LONG_TESTS") == "1";
    private static readonly int Kills = LongTests ? 20 : 2;

    // Short, so a lease held by a turn the crash cut off frees its thread soon; the default is 2 minutes.
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(2);

    // Every wait is bounded: a turn that takes longer than this is a hang and fails the test.
    private static readonly TimeSpan TurnBound = TimeSpan.FromSeconds(30);

    private readonly string _tenant = "server-crash-" + Guid.NewGuid().ToString("N");

    [SkippableFact]
    public async Task A_killed_postgres_server_loses_no_acknowledged_turn_and_leaves_every_thread_whole()
    {
        PrivateServer.RequireProgram(Path.Combine(PrivatePostgres.Bin, "postgres"), "PostgreSQL 15");
        await using var server = new PrivatePostgres();
        await RunAsync(server, "PostgreSQL", () =>
        {
            var source = NpgsqlDataSource.Create(server.Connection);
            return (new PostgresConversationStore(source), source.DisposeAsync);
        });
    }

    [SkippableFact]
    public async Task A_killed_redis_server_loses_no_acknowledged_turn_and_leaves_every_thread_whole()
    {
        PrivateServer.RequireProgram(PrivateRedis.Program, "redis-server");
        await using var server = new PrivateRedis();
        await RunAsync(server, "Redis", () =>
        {
            var redis = ConnectionMultiplexer.Connect(server.Connection);
            return (new RedisConversationStore(redis), redis.DisposeAsync);
        });
    }

    private async Task RunAsync(PrivateServer server, string name, Func<(IConversationStore Store, Func<ValueTask> Close)> open)
    {
        var clock = Stopwatch.StartNew();
        using (var starting = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
        {
            await server.StartAsync(starting.Token);
        }
        output.WriteLine($"started in {clock.Elapsed.TotalSeconds:F1} s");
        var (store, close) = open();
        var run = new Run();
        var random = new Random();
        using var stop = new CancellationTokenSource();
        var writers = Array.Empty<Task>();
        try
        {
            // Given writers sending turns on every thread
            writers = Enumerable.Range(0, Writers).Select(w => Task.Run(() => WriteAsync(store, w, run, stop.Token))).ToArray();
            await EveryThreadTakesATurnAsync(run, since: 0);

            // When the server is killed at random moments under that load, and started again on the same data
            for (var kill = 1; kill <= Kills; kill++)
            {
                await Task.Delay(random.Next(LongTests ? 200 : 100, LongTests ? 2500 : 800));
                await server.KillAsync();
                var generation = run.NextGeneration();
                await Task.Delay(random.Next(0, 500));
                var restartedFrom = clock.Elapsed;
                using (var restarting = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
                {
                    await server.StartAsync(restarting.Token);
                }
                var restarted = clock.Elapsed;
                // A lease held at the crash must not wedge its thread: every thread takes turns again.
                await EveryThreadTakesATurnAsync(run, since: generation);
                output.WriteLine($"kill {kill}: start took {(restarted - restartedFrom).TotalSeconds:F1} s, at {restarted.TotalSeconds:F1} s (restarted); every thread moved again after {(clock.Elapsed - restarted).TotalSeconds:F1} s");
            }
            await stop.CancelAsync();
            await Task.WhenAll(writers).WaitAsync(TurnBound * 2);
        }
        finally
        {
            // Also when the test failed midway: no writer may go on against a server that is about to be removed.
            await stop.CancelAsync();
            await Task.WhenAny(Task.WhenAll(writers), Task.Delay(TurnBound * 2));
            await close();
        }

        await ALeaseHeldAtACrashExpiresAsync(server, open, name);

        // Then, read back through a new connection: what was acknowledged is stored, once, whole
        var (reader, closeReader) = open();
        try
        {
            var check = await CheckAsync(reader, run);
            output.WriteLine($"{name}: {Kills} kills, {run.Acks.Count} turns acknowledged, {check.StoredTurns} stored "
                + $"({check.StoredTurns - run.Acks.Count + check.Lost} stored unacknowledged), {check.Lost} lost, {check.Duplicated} stored twice, "
                + $"{check.HalfTurns} half turns, {check.InvalidHistories} invalid histories; {run.Refused} refused (lease), "
                + $"failed: {string.Join(", ", run.Failures.OrderBy(f => f.Key).Select(f => $"{f.Key}×{f.Value}"))}; {clock.Elapsed.TotalSeconds:F1} s");
            foreach (var failure in run.FirstFailures)
            {
                output.WriteLine($"failure after {failure.Value.TotalMilliseconds:F0} ms: {failure.Key}");
            }
            Assert.Empty(run.Hangs);
            Assert.Equal(0, check.Lost);
            Assert.Equal(0, check.Duplicated);
            Assert.Equal(0, check.HalfTurns);
            Assert.Equal(0, check.InvalidHistories);
        }
        finally
        {
            await closeReader();
        }
    }

    // A lease taken just before the kill is kept by the durable server (a new process after the restart is refused, as it
    // would have been before the crash), and expires after its duration: the thread is free without anyone releasing it.
    private async Task ALeaseHeldAtACrashExpiresAsync(PrivateServer server, Func<(IConversationStore Store, Func<ValueTask> Close)> open, string name)
    {
        var key = new ThreadKey(_tenant, "scope", "leased at the crash");
        var (holder, closeHolder) = open();
        Assert.True(await holder.TryAcquireTurnLeaseAsync(key, "cut off", Lease));
        var taken = Stopwatch.StartNew();
        await server.KillAsync();
        await closeHolder();
        using (var restarting = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
        {
            await server.StartAsync(restarting.Token);
        }
        var (next, close) = open();
        try
        {
            var refusedAfterRestart = false;
            while (!await next.TryAcquireTurnLeaseAsync(key, "next", Lease))
            {
                refusedAfterRestart = true;
                Assert.True(taken.Elapsed < Lease + TimeSpan.FromSeconds(10), $"the lease held at the crash was still held {taken.Elapsed.TotalSeconds:F1} s later");
                await Task.Delay(50);
            }
            output.WriteLine($"{name}: a lease held at the crash was {(refusedAfterRestart ? "kept" : "gone")} after the restart and free {taken.Elapsed.TotalSeconds:F1} s after it was taken");
            Assert.True(refusedAfterRestart, "the lease held at the crash was lost with the restart");
            Assert.True(taken.Elapsed >= Lease - TimeSpan.FromMilliseconds(50), $"the lease was free again after {taken.Elapsed.TotalSeconds:F1} s, before its {Lease.TotalSeconds} s");
        }
        finally
        {
            await close();
        }
    }

    private async Task WriteAsync(IConversationStore store, int writer, Run run, CancellationToken stop)
    {
        // Throw: a writer that finds the lease held tries again shortly, so a wedged lease shows as a thread that stops moving.
        var options = new LedgerOptions
        {
            HistoryPolicy = KeepAllPolicy.Instance, PromptCaching = false, PinFirstExchange = false, OnConflict = ConflictHandling.Throw, TurnLease = Lease,
        };
        // A few milliseconds per call, so kills often land while a turn holds its lease.
        var ledger = new Ledger(store, new FakeModel { Latency = TimeSpan.FromMilliseconds(3) }, options);
        var random = new Random(writer);
        for (var n = 1; !stop.IsCancellationRequested; n++)
        {
            var thread = random.Next(Threads);
            // A new text each attempt: a failed turn may or may not be stored, and must never be confused with another.
            var text = $"w{writer} n{n}";
            var generation = run.Generation;
            var started = Stopwatch.StartNew();
            using var bound = new CancellationTokenSource(TurnBound);
            try
            {
                var result = await ledger.Open(Key(thread)).SendAsync(text, bound.Token).WaitAsync(TurnBound + TimeSpan.FromSeconds(5), CancellationToken.None);
                run.Acks.Add(new Ack(thread, result.User.Sequence, text, generation));
            }
            catch (ConcurrencyConflictException)
            {
                Interlocked.Increment(ref run.Refused);
                await Task.Delay(random.Next(5, 50), CancellationToken.None);
            }
            catch (Exception ex) when (started.Elapsed >= TurnBound)
            {
                // The stores' own timeouts are seconds; only a turn that waited out the whole bound is a hang.
                run.Hangs.Add($"{text}: {ex.GetType().Name}: {ex.Message}");
            }
            catch (Exception ex)
            {
                // The server is down or just came back: the turn's outcome is unknown, the writer goes on after a pause.
                run.Failures.AddOrUpdate(ex.GetType().Name, 1, (_, count) => count + 1);
                run.FirstFailures.TryAdd(ex.GetType().Name + ": " + ex.Message, started.Elapsed);
                await Task.Delay(random.Next(20, 100), CancellationToken.None);
            }
        }
    }

    private static async Task EveryThreadTakesATurnAsync(Run run, int since)
    {
        // Bounded: a lease left by the crash expires after Lease; far more than that means a thread is wedged.
        var deadline = DateTime.UtcNow + TurnBound;
        while (Enumerable.Range(0, Threads).Any(t => !run.Acks.Any(a => a.Thread == t && a.Generation >= since)))
        {
            if (!run.Hangs.IsEmpty)
            {
                Assert.Fail($"a turn hung: {run.Hangs.First()}");
            }
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"a thread took no turn within {TurnBound.TotalSeconds} s of the restart: "
                    + string.Join(", ", Enumerable.Range(0, Threads).Where(t => !run.Acks.Any(a => a.Thread == t && a.Generation >= since)).Select(t => $"t{t}")));
            }
            await Task.Delay(50);
        }
    }

    private async Task<Check> CheckAsync(IConversationStore store, Run run)
    {
        var check = new Check();
        var stored = new Dictionary<(int Thread, long Sequence), string>();
        var texts = new HashSet<string>();
        for (var t = 0; t < Threads; t++)
        {
            var entries = await ChildProcess.ReadAllAsync(store, Key(t));
            var contiguous = entries.Select(e => e.Sequence).SequenceEqual(Enumerable.Range(1, entries.Count).Select(i => (long)i))
                && (await store.GetHeadAsync(Key(t))).LastSequence == entries.Count;
            var messages = entries.OfType<MessageEntry>().Select(m => m.Message).ToList();
            if (!contiguous || ConversationValidator.Validate(messages, ValidationOptions.StrictHistory).Count > 0)
            {
                check.InvalidHistories++;
            }
            // A whole turn is one user message, its reply and its usage entry, sharing a turn id.
            foreach (var turn in entries.GroupBy(e => e.TurnId))
            {
                var parts = turn.ToList();
                var users = parts.OfType<MessageEntry>().Where(m => m.Message.Role == Role.User).ToList();
                var whole = turn.Key is not null && parts.Count == 3 && users.Count == 1
                    && parts.OfType<MessageEntry>().Count(m => m.Message.Role == Role.Assistant) == 1 && parts.OfType<UsageEntry>().Count() == 1;
                if (!whole)
                {
                    check.HalfTurns++;
                }
                foreach (var user in users)
                {
                    check.StoredTurns++;
                    stored[(t, user.Sequence)] = user.Message.Text;
                    if (!texts.Add(user.Message.Text))
                    {
                        check.Duplicated++;
                    }
                }
            }
        }
        foreach (var ack in run.Acks)
        {
            if (!stored.TryGetValue((ack.Thread, ack.Sequence), out var text) || text != ack.Text)
            {
                check.Lost++;
                output.WriteLine($"lost: {ack}");
            }
        }
        return check;
    }

    private ThreadKey Key(int thread) => new(_tenant, "scope", $"t{thread}");

    private sealed record Ack(int Thread, long Sequence, string Text, int Generation);

    /// <summary>What the writers saw; the generation counts the restarts, so acknowledgements can be placed after one.</summary>
    private sealed class Run
    {
        private int _generation;
        public int Refused;

        public int Generation => Volatile.Read(ref _generation);
        public ConcurrentBag<Ack> Acks { get; } = [];
        public ConcurrentBag<string> Hangs { get; } = [];
        public ConcurrentDictionary<string, int> Failures { get; } = new();
        public ConcurrentDictionary<string, TimeSpan> FirstFailures { get; } = new();

        public int NextGeneration() => Interlocked.Increment(ref _generation);
    }

    private sealed class Check
    {
        public int StoredTurns { get; set; }
        public int Lost { get; set; }
        public int Duplicated { get; set; }
        public int HalfTurns { get; set; }
        public int InvalidHistories { get; set; }
    }
}
