using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using ConversationLedger.Sqlite;

namespace ConversationLedger.Benchmarks;

/// <summary>
/// Many writers on one thread: how many model calls are paid for per stored turn. Each writer sends until the run's time is
/// up; a refused or lost turn is sent again after a short pause, as an application would. "Lease off" runs the same code over
/// a store that grants every lease, which is how turns behaved before the lease (every loser learned it lost at commit).
/// </summary>
internal static class ConcurrentWriters
{
    public sealed record Row(string Store, int Ledgers, ConflictHandling OnConflict, bool Lease, long ModelCalls, long Turns, long RefusedBeforeCall, long LostAtCommit);

    public static async Task<IReadOnlyList<Row>> RunAsync(int writers, TimeSpan duration, TimeSpan latency, TextWriter log)
    {
        var rows = new List<Row>();
        foreach (var (store, ledgers) in new[] { ("memory", 1), ("sqlite file", 2) })
        {
            foreach (var onConflict in new[] { ConflictHandling.Throw, ConflictHandling.WaitAndRetry })
            {
                foreach (var lease in new[] { false, true })
                {
                    var row = await RunOneAsync(store, ledgers, onConflict, lease, writers, duration, latency);
                    log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"  {row.Store}, {row.Ledgers} ledger(s), {row.OnConflict}, lease {(row.Lease ? "on" : "off")}: {row.ModelCalls} calls, {row.Turns} turns"));
                    rows.Add(row);
                }
            }
        }
        return rows;
    }

    public static string Table(IReadOnlyList<Row> rows)
    {
        var table = new StringBuilder();
        table.AppendLine("| store | ledgers | on conflict | lease | model calls | stored turns | calls per stored turn | refused before the call | lost at commit |");
        table.AppendLine("|---|---|---|---|---|---|---|---|---|");
        foreach (var r in rows)
        {
            table.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Store} | {r.Ledgers} | {r.OnConflict} | {(r.Lease ? "on" : "off")} | {r.ModelCalls:N0} | {r.Turns:N0} | {(double)r.ModelCalls / Math.Max(1, r.Turns):N2} | {r.RefusedBeforeCall:N0} | {r.LostAtCommit:N0} |"));
        }
        return table.ToString();
    }

    private static async Task<Row> RunOneAsync(string storeName, int ledgerCount, ConflictHandling onConflict, bool lease, int writers, TimeSpan duration, TimeSpan latency)
    {
        var directory = Directory.CreateTempSubdirectory("ledger-writers-").FullName;
        try
        {
            var memory = new InMemoryConversationStore();
            IConversationStore Store()
            {
                IConversationStore store = storeName == "memory" ? memory : new SqliteConversationStore(Path.Combine(directory, "ledger.db"));
                return lease ? store : new NoLeaseStore(store);
            }
            var model = new CountingModel(latency);
            var options = new LedgerOptions
            {
                HistoryPolicy = KeepAllPolicy.Instance,
                PromptCaching = false,
                PinFirstExchange = false,
                OnConflict = onConflict,
            };
            var key = new ThreadKey("bench", "writers", "one-thread");
            // One ledger (with its own store instance) per process being stood for.
            var conversations = Enumerable.Range(0, ledgerCount).Select(_ => new Ledger(Store(), model, options.Clone()).Open(key)).ToArray();
            long refused = 0, lost = 0;
            var until = DateTime.UtcNow + duration;

            await Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
            {
                var conversation = conversations[w % conversations.Length];
                for (var n = 0; DateTime.UtcNow < until; n++)
                {
                    try
                    {
                        await conversation.SendAsync($"writer {w} message {n}");
                    }
                    catch (ConcurrencyConflictException ex)
                    {
                        Interlocked.Increment(ref ex.TurnInFlight ? ref refused : ref lost);
                        await Task.Delay(Random.Shared.Next(1, 10));
                    }
                }
            })));

            var head = await conversations[0].LoadAsync();
            return new Row(storeName, ledgerCount, onConflict, lease, model.Calls, head.MessageCount / 2, refused, lost);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>A model that takes <c>latency</c> to answer and counts its calls.</summary>
    private sealed class CountingModel(TimeSpan latency) : IModelClient
    {
        private long _calls;

        public long Calls => Interlocked.Read(ref _calls);

        public async Task<ModelResponse> SendAsync(ModelRequest request, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _calls);
            await Task.Delay(latency, cancellationToken);
            return new ModelResponse("msg_bench", request.Model, Message.Assistant("ok"), "end_turn", new TokenUsage { InputTokens = 100, OutputTokens = 2 }, null);
        }

        public async IAsyncEnumerable<ModelStreamEvent> StreamAsync(ModelRequest request, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            var response = await SendAsync(request, cancellationToken);
            yield return new StreamCompleted(response);
        }

        public Task<long> CountTokensAsync(ModelRequest request, CancellationToken cancellationToken = default) => Task.FromResult(100L);
    }

    /// <summary>A store that grants every turn lease: turns run as they did before the lease existed.</summary>
    private sealed class NoLeaseStore(IConversationStore inner) : IConversationStore
    {
        public Task<ThreadHead> GetHeadAsync(ThreadKey key, CancellationToken cancellationToken = default) => inner.GetHeadAsync(key, cancellationToken);

        public Task<AppendResult> AppendAsync(ThreadKey key, long expectedSequence, IReadOnlyList<LedgerEntry> entries, CancellationToken cancellationToken = default) =>
            inner.AppendAsync(key, expectedSequence, entries, cancellationToken);

        public Task<ThreadWindow> ReadWindowAsync(ThreadKey key, WindowSpec window, CancellationToken cancellationToken = default) =>
            inner.ReadWindowAsync(key, window, cancellationToken);

        public Task<IReadOnlyList<LedgerEntry>> ReadEntriesAsync(ThreadKey key, long afterSequence, int limit, CancellationToken cancellationToken = default) =>
            inner.ReadEntriesAsync(key, afterSequence, limit, cancellationToken);

        public Task<ThreadPage> ListThreadsAsync(string tenant, string? scope, PageRequest page, CancellationToken cancellationToken = default) =>
            inner.ListThreadsAsync(tenant, scope, page, cancellationToken);

        public Task<ThreadHead> ForkAsync(ThreadKey source, long atSequence, ThreadKey target, CancellationToken cancellationToken = default) =>
            inner.ForkAsync(source, atSequence, target, cancellationToken);

        public Task<bool> DeleteThreadAsync(ThreadKey key, CancellationToken cancellationToken = default) => inner.DeleteThreadAsync(key, cancellationToken);

        public Task<int> DeleteTenantAsync(string tenant, CancellationToken cancellationToken = default) => inner.DeleteTenantAsync(tenant, cancellationToken);

        public Task<bool> TryAcquireTurnLeaseAsync(ThreadKey key, string holder, TimeSpan duration, CancellationToken cancellationToken = default) => Task.FromResult(true);

        public Task<bool> ReleaseTurnLeaseAsync(ThreadKey key, string holder, CancellationToken cancellationToken = default) => Task.FromResult(true);
    }
}
