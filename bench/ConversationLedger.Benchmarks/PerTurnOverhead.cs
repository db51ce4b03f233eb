using System.Diagnostics;
using System.Globalization;
using System.Text;
using ConversationLedger.Postgres;
using ConversationLedger.Sqlite;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace ConversationLedger.Benchmarks;

/// <summary>
/// Per-turn cost of the ledger against thread length: a whole turn (window query, policy, validation, token count of
/// the new message, cache breakpoints, atomic commit) with an instant model, on threads of 10 … 100,000 messages,
/// next to the floor — a bare indexed read of the newest 20 rows plus a two-row insert in one transaction on the same
/// database with the same durability — and next to the naive way (load the whole history, trim in memory, append).
/// </summary>
internal static class PerTurnOverhead
{
    public sealed record Row(string Store, string Path, long Messages, double MedianMs, double P95Ms, long AllocatedBytesPerTurn);

    public static async Task<IReadOnlyList<Row>> RunAsync(IReadOnlyList<long> lengths, int turns, string? postgres, TextWriter progress)
    {
        var rows = new List<Row>();
        var dir = Directory.CreateTempSubdirectory("ledger-bench-");
        try
        {
            foreach (var length in lengths)
            {
                var sqlitePath = Path.Combine(dir.FullName, $"ledger-{length}.db");
                var stores = new List<(string Name, Func<IConversationStore> Create, Func<Floor> Floor)>
                {
                    ("memory", () => new InMemoryConversationStore(), () => new MemoryFloor()),
                    ("sqlite", () => new SqliteConversationStore(sqlitePath), () => new SqliteFloor(Path.Combine(dir.FullName, $"floor-{length}.db"))),
                };
                if (postgres is not null)
                {
                    stores.Add(("postgres", () => new PostgresConversationStore(postgres), () => new PostgresFloor(postgres)));
                }
                foreach (var (name, create, floorOf) in stores)
                {
                    var store = create();
                    var key = new ThreadKey("bench", "overhead", $"t{length}-{Guid.NewGuid():N}");
                    await FillAsync(store, key, length);
                    rows.Add(await MeasureTurnsAsync(name, "ledger, sliding window", store, key, new SlidingWindowPolicy(new SlidingWindowOptions { Messages = 20 }), length, turns));
                    rows.Add(await MeasureTurnsAsync(name, "ledger, cache-aware default", store, key, LedgerOptions.DefaultPolicy, length, turns));
                    rows.Add(await MeasureNaiveAsync(name, store, key, length, Math.Min(turns, length >= 100_000 ? 10 : turns)));
                    await using (var floor = floorOf())
                    {
                        await floor.FillAsync(length);
                        rows.Add(await MeasureAsync(name, "floor: read newest 20 + insert 2", length, turns, floor.TurnAsync));
                    }
                    await store.DeleteThreadAsync(key);
                    (store as IDisposable)?.Dispose();
                    progress.WriteLine($"  {name} at {length:N0} messages: done");
                }
            }
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            dir.Delete(recursive: true);
        }
        return rows;
    }

    private static async Task FillAsync(IConversationStore store, ThreadKey key, long messages)
    {
        var counter = O200kTokenCounter.Instance;
        var user = Message.User("What does the retry policy do when the queue is full and the handler times out?");
        var reply = Message.Assistant("It backs off exponentially, up to five attempts, then parks the message in the dead-letter queue.");
        int userTokens = counter.CountTokens(user), replyTokens = counter.CountTokens(reply);
        long head = 0;
        var batch = new List<LedgerEntry>();
        for (long m = 0; m < messages; m += 2)
        {
            batch.Add(new MessageEntry(user) { Tokens = userTokens });
            batch.Add(new MessageEntry(reply) { Tokens = replyTokens });
            batch.Add(new UsageEntry(new UsageRecord("claude-sonnet-5-5", new TokenUsage { InputTokens = 1000, OutputTokens = 20 }, 0.002m)));
            if (m == 0)
            {
                batch.Add(new PinEntry(1, true));
                batch.Add(new PinEntry(2, true));
            }
            if (batch.Count >= 3000 || m + 2 >= messages)
            {
                head = (await store.AppendAsync(key, head, batch)).Head.LastSequence;
                batch.Clear();
            }
        }
    }

    private static Task<Row> MeasureTurnsAsync(string store, string path, IConversationStore conversations, ThreadKey key, IHistoryPolicy policy, long length, int turns)
    {
        var ledger = new Ledger(conversations, new InstantModel(), new LedgerOptions { Policy = policy, PinFirstExchange = false });
        var chat = ledger.Open(key);
        return MeasureAsync(store, path, length, turns, () => chat.SendAsync("And what happens to the parked messages after an hour?"));
    }

    // What most applications do: read the whole history, trim it in memory, send, append the two new messages.
    private static Task<Row> MeasureNaiveAsync(string store, IConversationStore conversations, ThreadKey key, long length, int turns) =>
        MeasureAsync(store, "naive: load all, trim, append", length, turns, async () =>
        {
            var all = new List<LedgerEntry>();
            for (long after = 0; ; )
            {
                var page = await conversations.ReadEntriesAsync(key, after, 5000);
                if (page.Count == 0)
                {
                    break;
                }
                all.AddRange(page);
                after = page[^1].Sequence;
            }
            var messages = all.OfType<MessageEntry>().Select(e => e.Message).ToList();
            _ = messages.Take(2).Concat(messages.TakeLast(18)).ToList();
            var head = all.Count == 0 ? 0 : all[^1].Sequence;
            await conversations.AppendAsync(key, head, [new MessageEntry(Message.User("next")), new MessageEntry(Message.Assistant("ok"))]);
        });

    private static async Task<Row> MeasureAsync(string store, string path, long length, int turns, Func<Task> turn)
    {
        for (var i = 0; i < Math.Min(10, turns); i++)
        {
            await turn();
        }
        var times = new double[turns];
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        for (var i = 0; i < turns; i++)
        {
            var start = Stopwatch.GetTimestamp();
            await turn();
            times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        var allocated = (GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore) / turns;
        Array.Sort(times);
        return new Row(store, path, length, times[turns / 2], times[(int)(turns * 0.95)], allocated);
    }

    public static string Table(IReadOnlyList<Row> rows)
    {
        var text = new StringBuilder();
        text.AppendLine("| store | path | messages | median ms/turn | p95 ms | allocated KB/turn | × floor (median) |");
        text.AppendLine("|---|---|---:|---:|---:|---:|---:|");
        foreach (var r in rows)
        {
            var floor = rows.First(f => f.Store == r.Store && f.Messages == r.Messages && f.Path.StartsWith("floor", StringComparison.Ordinal));
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.Store} | {r.Path} | {r.Messages:N0} | {r.MedianMs:F3} | {r.P95Ms:F3} | {r.AllocatedBytesPerTurn / 1024.0:F1} | {r.MedianMs / floor.MedianMs:F2} |");
        }
        return text.ToString();
    }

    /// <summary>The floor: the least any store must do per turn, without ledger code.</summary>
    private abstract class Floor : IAsyncDisposable
    {
        public abstract Task FillAsync(long rows);

        public abstract Task TurnAsync();

        public virtual ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    private sealed class MemoryFloor : Floor
    {
        private readonly List<string> _rows = [];

        public override Task FillAsync(long rows)
        {
            for (long i = 0; i < rows; i++)
            {
                _rows.Add("{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"row\"}]}");
            }
            return Task.CompletedTask;
        }

        public override Task TurnAsync()
        {
            lock (_rows)
            {
                _ = _rows.GetRange(Math.Max(0, _rows.Count - 20), Math.Min(20, _rows.Count)).ToArray();
                _rows.Add("{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"next\"}]}");
                _rows.Add("{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"ok\"}]}");
            }
            return Task.CompletedTask;
        }
    }

    private sealed class SqliteFloor(string path) : Floor
    {
        private readonly string _connectionString = new SqliteConnectionStringBuilder { DataSource = path, Pooling = true }.ToString();
        private long _next;

        private async Task<SqliteConnection> OpenAsync()
        {
            var connection = new SqliteConnection(_connectionString);
            await connection.OpenAsync();
            await using var pragmas = connection.CreateCommand();
            pragmas.CommandText = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;";
            await pragmas.ExecuteNonQueryAsync();
            return connection;
        }

        public override async Task FillAsync(long rows)
        {
            await using var connection = await OpenAsync();
            await using var create = connection.CreateCommand();
            create.CommandText = "CREATE TABLE IF NOT EXISTS floor (thread TEXT NOT NULL, seq INTEGER NOT NULL, payload TEXT NOT NULL, PRIMARY KEY (thread, seq))";
            await create.ExecuteNonQueryAsync();
            await using var tx = connection.BeginTransaction();
            await using var insert = connection.CreateCommand();
            insert.CommandText = "INSERT INTO floor VALUES ('t', $seq, $payload)";
            var seq = insert.Parameters.Add("$seq", SqliteType.Integer);
            insert.Parameters.AddWithValue("$payload", "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"row\"}]}");
            for (_next = 1; _next <= rows; _next++)
            {
                seq.Value = _next;
                await insert.ExecuteNonQueryAsync();
            }
            tx.Commit();
        }

        public override async Task TurnAsync()
        {
            await using var connection = await OpenAsync();
            await using (var read = connection.CreateCommand())
            {
                read.CommandText = "SELECT seq, payload FROM floor WHERE thread = 't' ORDER BY seq DESC LIMIT 20";
                await using var reader = await read.ExecuteReaderAsync();
                while (await reader.ReadAsync())
                {
                    _ = reader.GetString(1);
                }
            }
            await using var tx = connection.BeginTransaction();
            await using var insert = connection.CreateCommand();
            insert.CommandText = "INSERT INTO floor VALUES ('t', $a, 'next'), ('t', $b, 'ok')";
            insert.Parameters.AddWithValue("$a", _next++);
            insert.Parameters.AddWithValue("$b", _next++);
            await insert.ExecuteNonQueryAsync();
            tx.Commit();
        }
    }

    private sealed class PostgresFloor(string connectionString) : Floor
    {
        private readonly NpgsqlDataSource _source = NpgsqlDataSource.Create(connectionString);
        private readonly string _table = "floor_" + Guid.NewGuid().ToString("N");
        private long _next;

        public override async Task FillAsync(long rows)
        {
            await using var create = _source.CreateCommand(
                $"CREATE TABLE {_table} (thread TEXT NOT NULL, seq BIGINT NOT NULL, payload TEXT NOT NULL, PRIMARY KEY (thread, seq));" +
                $"INSERT INTO {_table} SELECT 't', g, '{{\"role\":\"user\"}}' FROM generate_series(1, {rows}) g; ANALYZE {_table};");
            await create.ExecuteNonQueryAsync();
            _next = rows + 1;
        }

        public override async Task TurnAsync()
        {
            await using var connection = await _source.OpenConnectionAsync();
            await using (var read = new NpgsqlCommand($"SELECT seq, payload FROM {_table} WHERE thread = 't' ORDER BY seq DESC LIMIT 20", connection))
            await using (var reader = await read.ExecuteReaderAsync())
            {
                while (await reader.ReadAsync())
                {
                    _ = reader.GetString(1);
                }
            }
            await using var tx = await connection.BeginTransactionAsync();
            await using var insert = new NpgsqlCommand($"INSERT INTO {_table} VALUES ('t', $1, 'next'), ('t', $2, 'ok')", connection, tx);
            insert.Parameters.Add(new NpgsqlParameter<long> { TypedValue = _next++ });
            insert.Parameters.Add(new NpgsqlParameter<long> { TypedValue = _next++ });
            await insert.ExecuteNonQueryAsync();
            await tx.CommitAsync();
        }

        public override async ValueTask DisposeAsync()
        {
            await using (var drop = _source.CreateCommand($"DROP TABLE IF EXISTS {_table}"))
            {
                await drop.ExecuteNonQueryAsync();
            }
            await _source.DisposeAsync();
        }
    }
}
