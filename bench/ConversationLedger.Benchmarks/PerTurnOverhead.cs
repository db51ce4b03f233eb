using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using ConversationLedger.Postgres;
using ConversationLedger.Sqlite;
using Microsoft.Data.Sqlite;
using Npgsql;
using Meai = Microsoft.Extensions.AI;
#pragma warning disable MEAI001 // M.E.AI's reducers are experimental in 10.x; they are what we compare against.
using MeaiReducer = Microsoft.Extensions.AI.MessageCountingChatReducer;
#pragma warning restore MEAI001
using SkChat = Microsoft.SemanticKernel.ChatCompletion;

namespace ConversationLedger.Benchmarks;

/// <summary>
/// Per-turn cost of the ledger against thread length: a whole turn (window query, policy, validation, token count of
/// the new message, cache breakpoints, atomic commit) with an instant model, on threads of 10 … 100,000 messages,
/// next to the floor — a bare indexed read of the newest 20 rows plus a two-row insert in one transaction on the same
/// database with the same durability — and next to what people use instead: the naive way (load the whole history,
/// trim in memory, append), Semantic Kernel's and Microsoft.Extensions.AI's reducers fed the same history from the
/// same store, and a JSON file per thread read and rewritten each turn.
/// </summary>
internal static class PerTurnOverhead
{
    public sealed record Row(string Store, string Path, long Messages, int Turns, double MedianMs, double P95Ms, long AllocatedBytesPerTurn, long PeakHeapBytes);

    public const string SlidingWindow = "ledger, sliding window";
    public const string CacheAware = "ledger, cache-aware default";
    public const string FloorPath = "floor: read newest 20 + insert 2";

    // Paths that load the whole thread cost about a second per turn at 100,000 messages: a few turns show the trend.
    public static int LoadAllTurns(long length, int turns) => Math.Min(turns, length >= 100_000 ? 3 : length >= 10_000 ? 20 : turns);

    public sealed record Result(IReadOnlyList<Row> Rows, IReadOnlyList<TurnPhases.Row> Phases, IReadOnlyList<WalRow> Wal);

    /// <summary>SQLite pages written to the WAL (and fsync'd) per turn: what a commit costs on disk.</summary>
    public sealed record WalRow(long Messages, double LedgerPages, double FloorPages);

    /// <summary>Which stores to run, and whether PostgreSQL's statistics are refreshed (ANALYZE) after the bulk fill.</summary>
    public sealed record Options(IReadOnlySet<string>? Stores = null, bool Analyze = false, bool WarmUp = true);

    public static async Task<Result> RunAsync(IReadOnlyList<long> lengths, int turns, string? postgres, TextWriter progress, Options? options = null)
    {
        options ??= new Options();
        if (options.WarmUp)
        {
            // A discarded pass first: otherwise the shortest thread, measured first, also pays for JIT and tiering.
            _ = await RunAsync([10], 20, postgres, TextWriter.Null, options with { WarmUp = false });
        }
        var rows = new List<Row>();
        var phases = new List<TurnPhases.Row>();
        var wal = new List<WalRow>();
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
                foreach (var (name, create, floorOf) in stores.Where(s => options.Stores is null || options.Stores.Contains(s.Name)))
                {
                    var store = create();
                    var key = new ThreadKey("bench", "overhead", $"t{length}-{Guid.NewGuid():N}");
                    await FillAsync(store, key, length);
                    await using var floor = floorOf();
                    await floor.FillAsync(length);
                    if (name == "postgres" && options.Analyze)
                    {
                        await AnalyzeAsync(postgres!);
                    }
                    // The ledger paths and the floor take turns (rotating order), so load from other processes on
                    // this shared machine hits all three alike and the ratios stay honest.
                    var windowChat = Chat(store, key, Window20);
                    var defaultChat = Chat(store, key, LedgerOptions.DefaultPolicy);
                    var flat = await MeasureInterleavedAsync(name, length, turns,
                    [
                        (SlidingWindow, () => windowChat.SendAsync(NextQuestion)),
                        (CacheAware, () => defaultChat.SendAsync(NextQuestion)),
                        (FloorPath, floor.TurnAsync),
                    ]);
                    rows.AddRange(flat);
                    if (name != "memory")
                    {
                        phases.Add(await TurnPhases.MeasureAsync(name, store, key, "sliding window", Window20, length, Math.Min(turns, 100), flat[0].MedianMs));
                        phases.Add(await TurnPhases.MeasureAsync(name, store, key, "cache-aware default", LedgerOptions.DefaultPolicy, length, Math.Min(turns, 100), flat[1].MedianMs));
                    }
                    if (name == "sqlite")
                    {
                        wal.Add(new WalRow(length,
                            await WalPagesPerTurnAsync(sqlitePath, () => windowChat.SendAsync(NextQuestion)),
                            await WalPagesPerTurnAsync(Path.Combine(dir.FullName, $"floor-{length}.db"), floor.TurnAsync)));
                    }
                    var heavy = LoadAllTurns(length, turns);
                    rows.Add(await MeasureNaiveAsync(name, store, key, length, heavy));
                    rows.Add(await MeasureReducerAsync(name, "Semantic Kernel ChatHistoryTruncationReducer(20)", store, key, length, heavy, SemanticKernelTrim));
                    rows.Add(await MeasureReducerAsync(name, "M.E.AI MessageCountingChatReducer(20)", store, key, length, heavy, ExtensionsAiTrim));
                    if (name == "sqlite")
                    {
                        // A JSON file per thread is the other common way; it fsyncs like SQLite does, so it sits with it.
                        var json = new JsonFileThread(Path.Combine(dir.FullName, $"thread-{length}.json"));
                        json.Fill(length);
                        rows.Add(await MeasureAsync(name, "JSON file per thread: read all, trim, rewrite", length, heavy, json.TurnAsync));
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
        return new Result(rows, phases, wal);
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

    public static IHistoryPolicy Window20 { get; } = new SlidingWindowPolicy(new SlidingWindowOptions { Messages = 20 });

    private const string NextQuestion = "And what happens to the parked messages after an hour?";

    private static Conversation Chat(IConversationStore store, ThreadKey key, IHistoryPolicy policy) =>
        new Ledger(store, new InstantModel(), new LedgerOptions { HistoryPolicy = policy, PinFirstExchange = false }).Open(key);

    private static async Task AnalyzeAsync(string connectionString)
    {
        await using var source = NpgsqlDataSource.Create(connectionString);
        await using var analyze = source.CreateCommand("ANALYZE entries; ANALYZE threads;");
        await analyze.ExecuteNonQueryAsync();
    }

    // Empties the WAL, runs 20 turns, and divides the WAL's growth by the frame size (page + 24-byte header).
    private static async Task<double> WalPagesPerTurnAsync(string databasePath, Func<Task> turn)
    {
        const int Turns = 20;
        await using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = databasePath, Pooling = false }.ToString());
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA page_size";
        var pageSize = (long)(await command.ExecuteScalarAsync())!;
        command.CommandText = "PRAGMA wal_checkpoint(TRUNCATE)";
        await command.ExecuteNonQueryAsync();
        for (var i = 0; i < Turns; i++)
        {
            await turn();
        }
        return new FileInfo(databasePath + "-wal").Length / (double)(pageSize + 24) / Turns;
    }

    private static async Task<Row[]> MeasureInterleavedAsync(string store, long length, int turns, (string Path, Func<Task> Turn)[] paths)
    {
        for (var i = 0; i < Math.Min(10, turns); i++)
        {
            foreach (var path in paths)
            {
                await path.Turn();
            }
        }
        var times = paths.Select(_ => new double[turns]).ToArray();
        var allocated = new long[paths.Length];
        for (var i = 0; i < turns; i++)
        {
            for (var k = 0; k < paths.Length; k++)
            {
                var p = (i + k) % paths.Length;
                var before = GC.GetTotalAllocatedBytes(precise: true);
                var start = Stopwatch.GetTimestamp();
                await paths[p].Turn();
                times[p][i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                allocated[p] += GC.GetTotalAllocatedBytes(precise: true) - before;
            }
        }
        var rows = new Row[paths.Length];
        for (var p = 0; p < paths.Length; p++)
        {
            // The heap peak needs a path to itself: a short separate pass.
            var alone = await MeasureAsync(store, paths[p].Path, length, Math.Min(turns, 50), paths[p].Turn);
            Array.Sort(times[p]);
            rows[p] = new Row(store, paths[p].Path, length, turns, times[p][turns / 2], times[p][Math.Min(turns - 1, (int)(turns * 0.95))],
                allocated[p] / turns, alone.PeakHeapBytes);
        }
        return rows;
    }

    // What most applications do: read the whole history, trim it in memory, send, append the two new messages.
    private static Task<Row> MeasureNaiveAsync(string store, IConversationStore conversations, ThreadKey key, long length, int turns) =>
        MeasureAsync(store, "naive: load all, trim, append", length, turns, async () =>
        {
            var all = await LoadAllAsync(conversations, key);
            var messages = all.OfType<MessageEntry>().Select(e => e.Message).ToList();
            _ = messages.Take(2).Concat(messages.TakeLast(18)).ToList();
            var head = all.Count == 0 ? 0 : all[^1].Sequence;
            await conversations.AppendAsync(key, head, [new MessageEntry(Message.User("next")), new MessageEntry(Message.Assistant("ok"))]);
        });

    // A framework reducer works on the framework's own message list, so each turn loads the thread from the store,
    // converts it, reduces it to 20 messages and appends the two new rows — what an app built on it has to do.
    private static Task<Row> MeasureReducerAsync(string store, string path, IConversationStore conversations, ThreadKey key, long length, int turns,
        Func<List<Message>, Task<int>> reduce) =>
        MeasureAsync(store, path, length, turns, async () =>
        {
            var all = await LoadAllAsync(conversations, key);
            var kept = await reduce(all.OfType<MessageEntry>().Select(e => e.Message).ToList());
            if (kept > 20)
            {
                throw new InvalidOperationException($"{path} kept {kept} messages");
            }
            var head = all.Count == 0 ? 0 : all[^1].Sequence;
            await conversations.AppendAsync(key, head, [new MessageEntry(Message.User("next")), new MessageEntry(Message.Assistant("ok"))]);
        });

    private static readonly SkChat.ChatHistoryTruncationReducer SkReducer = new(targetCount: 20);

    public static async Task<int> SemanticKernelTrim(List<Message> messages)
    {
        var history = new SkChat.ChatHistory();
        foreach (var m in messages)
        {
            history.AddMessage(m.Role == Role.User ? SkChat.AuthorRole.User : SkChat.AuthorRole.Assistant, m.Text);
        }
        // null means "nothing to reduce".
        var reduced = await SkReducer.ReduceAsync(history);
        return reduced?.Count() ?? history.Count;
    }

#pragma warning disable MEAI001
    private static readonly MeaiReducer MeaiTrim = new(targetCount: 20);
#pragma warning restore MEAI001

    public static async Task<int> ExtensionsAiTrim(List<Message> messages)
    {
        var chat = messages.Select(m => new Meai.ChatMessage(m.Role == Role.User ? Meai.ChatRole.User : Meai.ChatRole.Assistant, m.Text)).ToList();
        return (await MeaiTrim.ReduceAsync(chat, CancellationToken.None)).Count();
    }

    private static async Task<List<LedgerEntry>> LoadAllAsync(IConversationStore conversations, ThreadKey key)
    {
        var all = new List<LedgerEntry>();
        for (long after = 0; ; )
        {
            var page = await conversations.ReadEntriesAsync(key, after, 5000);
            if (page.Count == 0)
            {
                return all;
            }
            all.AddRange(page);
            after = page[^1].Sequence;
        }
    }

    public static async Task<Row> MeasureAsync(string store, string path, long length, int turns, Func<Task> turn)
    {
        for (var i = 0; i < Math.Min(10, Math.Max(1, turns / 3)); i++)
        {
            await turn();
        }
        var times = new double[turns];
        using var heap = HeapPeak.Start();
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        for (var i = 0; i < turns; i++)
        {
            var start = Stopwatch.GetTimestamp();
            await turn();
            times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        var allocated = (GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore) / turns;
        Array.Sort(times);
        return new Row(store, path, length, turns, times[turns / 2], times[Math.Min(turns - 1, (int)(turns * 0.95))], allocated, heap.Stop());
    }

    public static string Table(IReadOnlyList<Row> rows)
    {
        var text = new StringBuilder();
        text.AppendLine("| store | path | messages | turns | median ms/turn | p95 ms | allocated KB/turn | peak heap MB | × floor (median) |");
        text.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in rows)
        {
            var floor = rows.First(f => f.Store == r.Store && f.Messages == r.Messages && f.Path == FloorPath);
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.Store} | {r.Path} | {r.Messages:N0} | {r.Turns} | {r.MedianMs:F3} | {r.P95Ms:F3} | {r.AllocatedBytesPerTurn / 1024.0:N1} | {r.PeakHeapBytes / 1048576.0:N1} | {Ratio(r.MedianMs, floor.MedianMs)} |");
        }
        return text.ToString();
    }

    // The in-memory floor takes well under a microsecond: a ratio to it says nothing, so it is left out.
    private static string Ratio(double value, double of) => of < 0.001 ? "–" : (value / of).ToString("N2", CultureInfo.InvariantCulture);

    public static string WalTable(IReadOnlyList<WalRow> rows)
    {
        var text = new StringBuilder();
        text.AppendLine("| messages | SQLite WAL pages per turn: ledger (sliding window) | floor |");
        text.AppendLine("|---:|---:|---:|");
        foreach (var r in rows)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"| {r.Messages:N0} | {r.LedgerPages:F1} | {r.FloorPages:F1} |");
        }
        return text.ToString();
    }

    /// <summary>Per store and path: the median at the shortest and longest thread, their ratio, and × floor at the longest.</summary>
    public static string FlatnessTable(IReadOnlyList<Row> rows)
    {
        var text = new StringBuilder();
        var shortest = rows.Min(r => r.Messages);
        var longest = rows.Max(r => r.Messages);
        text.AppendLine(CultureInfo.InvariantCulture,
            $"| store | path | ms/turn at {shortest:N0} | ms/turn at {longest:N0} | t({longest:N0}) / t({shortest:N0}) | × floor at {shortest:N0} | × floor at {longest:N0} | peak heap MB at {longest:N0} |");
        text.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|");
        foreach (var group in rows.GroupBy(r => (r.Store, r.Path)))
        {
            var low = group.First(r => r.Messages == shortest);
            var high = group.First(r => r.Messages == longest);
            double Floor(long messages) => rows.First(f => f.Store == group.Key.Store && f.Messages == messages && f.Path == FloorPath).MedianMs;
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {group.Key.Store} | {group.Key.Path} | {low.MedianMs:F3} | {high.MedianMs:F3} | {Ratio(high.MedianMs, low.MedianMs)} | {Ratio(low.MedianMs, Floor(shortest))} | {Ratio(high.MedianMs, Floor(longest))} | {high.PeakHeapBytes / 1048576.0:N1} |");
        }
        return text.ToString();
    }

    /// <summary>
    /// The highest managed heap seen while a path runs, above the heap before it started, sampled every 2 ms on a
    /// background thread. It includes garbage not yet collected (up to a gen-0 budget), so small values mean
    /// "nothing that grows with the thread", not an exact working set.
    /// </summary>
    private sealed class HeapPeak : IDisposable
    {
        private readonly long _baseline;
        private readonly Thread _thread;
        private volatile bool _stop;
        private long _peak;

        private HeapPeak()
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            _baseline = GC.GetTotalMemory(forceFullCollection: false);
            _peak = _baseline;
            _thread = new Thread(Sample) { IsBackground = true, Name = "heap-peak" };
            _thread.Start();
        }

        public static HeapPeak Start() => new();

        private void Sample()
        {
            while (!_stop)
            {
                var now = GC.GetTotalMemory(forceFullCollection: false);
                if (now > Interlocked.Read(ref _peak))
                {
                    Interlocked.Exchange(ref _peak, now);
                }
                Thread.Sleep(2);
            }
        }

        public long Stop()
        {
            _stop = true;
            _thread.Join();
            return Math.Max(0, Interlocked.Read(ref _peak) - _baseline);
        }

        public void Dispose() => Stop();
    }

    /// <summary>One JSON file per thread, read whole and rewritten (temp file, fsync, rename) every turn.</summary>
    private sealed class JsonFileThread(string path)
    {
        private sealed record Line(string Role, string Text);

        public void Fill(long messages)
        {
            var lines = new List<Line>();
            for (long m = 0; m < messages; m += 2)
            {
                lines.Add(new Line("user", "What does the retry policy do when the queue is full and the handler times out?"));
                lines.Add(new Line("assistant", "It backs off exponentially, up to five attempts, then parks the message in the dead-letter queue."));
            }
            Write(lines);
        }

        public Task TurnAsync()
        {
            var lines = JsonSerializer.Deserialize<List<Line>>(File.ReadAllBytes(path))!;
            _ = lines.TakeLast(20).ToList();
            lines.Add(new Line("user", "next"));
            lines.Add(new Line("assistant", "ok"));
            Write(lines);
            return Task.CompletedTask;
        }

        private void Write(List<Line> lines)
        {
            var temp = path + ".tmp";
            using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write))
            {
                JsonSerializer.Serialize(file, lines);
                file.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: true);
        }
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
