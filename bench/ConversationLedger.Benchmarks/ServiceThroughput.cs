using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using ConversationLedger.Emulator;
using ConversationLedger.Postgres;
using ConversationLedger.Server.State;
using Npgsql;

namespace ConversationLedger.Benchmarks;

/// <summary>
/// Throughput of the conversation service as deployed: real service processes (the built <c>ConversationLedger.Server.dll</c>)
/// answering JSON turns (<c>POST /v1/threads/{scope}/{id}/turns</c>) from N closed-loop HTTP clients, each on its own thread
/// and its own conversation thread, with replies from an in-process emulator that answers at once. On PostgreSQL the same run
/// also measures the database's ceiling for the same clients — a raw <c>BEGIN; INSERT one row; COMMIT</c> loop over N
/// connections — and, for the analysis, counts the round trips of a service turn through a counting relay and times a replica of
/// a turn's store and state calls in-process.
/// </summary>
internal static class ServiceThroughput
{
    /// <summary>The model and policy the services run with: no thinking, one model call per turn, no summary calls.</summary>
    public const string Model = "claude-haiku-4-5";

    public const string Policy = "window:20/10";

    private const string Tenant = "bench";

    private const int QuestionTokens = 150;

    /// <param name="WarmUp">Before each service configuration's window: long enough for a fresh process to finish tiering up its JIT'd code.</param>
    /// <param name="PoolSize">Npgsql's <c>Max Pool Size</c> for the services' connection strings; null leaves Npgsql's default (100 per pool).</param>
    public sealed record Settings(int Clients, TimeSpan Duration, TimeSpan WarmUp, string? Postgres, IReadOnlySet<string> Stores, bool Analysis, int? PoolSize = null)
    {
        /// <summary>The warm-up of the in-process loops (raw inserts, replica, model API), whose code this process runs already.</summary>
        public TimeSpan ShortWarmUp => WarmUp < TimeSpan.FromSeconds(5) ? WarmUp : TimeSpan.FromSeconds(5);

        /// <summary>The longest warm-up of a service configuration: <see cref="WarmUp"/> at least, then until its CPU per turn settles.</summary>
        public TimeSpan MaxWarmUp => WarmUp * 4 > TimeSpan.FromSeconds(90) ? WarmUp * 4 : TimeSpan.FromSeconds(90);
    }

    /// <summary>CPU used per measured operation (ms, by whom) and how busy the whole machine was in the window.</summary>
    public sealed record CpuUse(double ServiceMs, double BenchMs, double PostgresMs, double MachineBusyPercent, double OtherCores);

    /// <summary>Per-operation database work over the whole run (warm-up included), from PostgreSQL's statistics.</summary>
    public sealed record DbUse(double Transactions, double WalSyncs, double WalKb, IReadOnlyList<TableUse> Tables)
    {
        /// <summary>The most connections to the database seen at once during the run (sampled every 200 ms), when sampled.</summary>
        public int? PeakConnections { get; init; }
    }

    public sealed record TableUse(string Table, double IndexScans, double SeqScans, double Inserted, double Updated, double Deleted);

    /// <param name="ServiceRssMb">The instances' resident memory as the window opened and as it closed.</param>
    public sealed record Row(string Store, string Configuration, int Instances, LoadResult Load, CpuUse Cpu, DbUse? Db, (double Start, double End)? ServiceRssMb)
    {
        public bool IsCeiling { get; init; }

        /// <summary>Lines the instances logged per turn (whole run; a thread's creation and first turn included).</summary>
        public double? LogLinesPerTurn { get; init; }
    }

    /// <summary>Round trips of one service turn to each of its two databases (the ledger's store, the service's own tables).</summary>
    public sealed record RoundTrips(int Turns, double Store, double State, double Connections, double Ceiling);

    public sealed record Phase(string Name, double MeanMs, double P99Ms);

    /// <summary>
    /// A replica of a turn's database calls: all of them as the service makes them, or without some (what a turn would cost if
    /// they were folded away), over connection strings with extra options (e.g. Npgsql's automatic preparation).
    /// </summary>
    public sealed record Replica(string Name, bool ServiceReads = true, bool Lease = true, bool Activity = true, string ConnectionOptions = "");

    /// <summary>The replicas the analysis runs: the first is the service's own sequence (its calls are timed).</summary>
    public static readonly Replica[] Replicas =
    [
        new("replica: a turn's 5 store and state calls in-process (no HTTP, no model)"),
        new("replica, connection string + " + Unprepared, ConnectionOptions: Unprepared),
        new("replica without lease and activity update (key, thread, window, plain append)", Lease: false, Activity: false),
        new("replica: window read + append only (the ledger's own two calls)", ServiceReads: false, Lease: false, Activity: false),
        new("replica: window read + append only, connection string + " + Unprepared, ServiceReads: false, Lease: false, Activity: false, ConnectionOptions: Unprepared),
    ];

    /// <summary>
    /// Npgsql connection-string options that undo the store's defaults (automatic preparation of repeated statements, no
    /// session reset on reuse): what those defaults are worth.
    /// </summary>
    public const string Unprepared = "Max Auto Prepare=0;No Reset On Close=false";

    /// <summary>A connection-string option that makes PostgreSQL plan each prepared statement once (its generic plan).</summary>
    public const string GenericPlans = "Options=-c plan_cache_mode=force_generic_plan";

    public sealed record Result(IReadOnlyList<Row> Rows, int TurnPayloadBytes, RoundTrips? Trips, IReadOnlyList<Phase> Phases, string Durability);

    public static async Task<Result> RunAsync(Settings settings, TextWriter log)
    {
        var options = new EmulatorOptions { MaxLoggedRequests = 1 };
        await using var emulator = new EmulatorServer(options);
        var modelUrl = await emulator.StartAsync();
        var work = Directory.CreateTempSubdirectory("ledger-service-bench-").FullName;
        var rows = new List<Row>();
        var phases = new List<Phase>();
        RoundTrips? trips = null;
        var payloadBytes = 0;
        var durability = "";
        var common = new Dictionary<string, string>
        {
            ["Server:ModelApi"] = "emulator:" + modelUrl,
            // The per-tenant limit is the service's defence, not what is measured: every client here is one tenant.
            ["Server:RequestsPerSecond"] = "1000000",
            ["Server:RequestBurst"] = "1000000",
            ["ConversationLedger:Model"] = Model,
            ["ConversationLedger:Policy"] = Policy,
        };
        log.WriteLine($"  emulator (in this process, zero latency) at {modelUrl}; service: {ServiceProcess.ServerDll()}");
        try
        {
            if (settings.Stores.Contains("sqlite"))
            {
                var path = Path.Combine(work, "ledger.db");
                string secret;
                await using (var state = ServiceState.Sqlite(path))
                {
                    secret = (await state.CreateKeyAsync(Tenant, "bench")).Secret;
                }
                Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
                rows.Add(await ServiceRowAsync("sqlite", "service, JSON turns", new(common) { ["Server:Store"] = "sqlite:" + path }, 1, secret, "sqlite",
                    settings, work, null, log));
            }
            if (settings.Stores.Contains("postgres") && settings.Postgres is { } postgres)
            {
                await using var database = await BenchDatabase.CreateAsync(postgres);
                durability = await database.DurabilityAsync();
                log.WriteLine($"  PostgreSQL database {database.Name} (created for this run; {durability})");
                string secret;
                await using (var state = ServiceState.Postgres(database.ConnectionString))
                {
                    secret = (await state.CreateKeyAsync(Tenant, "bench")).Secret;
                }
                var service = settings.PoolSize is { } pool ? $"{database.ConnectionString};Max Pool Size={pool}" : database.ConnectionString;
                log.WriteLine($"  PostgreSQL: {await database.FreeConnectionsAsync()} free connection slots before the runs; service pools: " +
                    (settings.PoolSize is { } size ? $"Max Pool Size={size}" : "Npgsql's default size") + " (one per instance, shared by the ledger store and its own tables)");
                var store = new Dictionary<string, string>(common) { ["Server:Store"] = "postgres:" + service };
                rows.Add(await ServiceRowAsync("postgres", "service, JSON turns", store, 1, secret, "pg1", settings, work, database, log));
                payloadBytes = await database.TurnPayloadBytesAsync();
                rows.Add(await CeilingRowAsync(database, payloadBytes, settings, log));
                rows.Add(await ServiceRowAsync("postgres", "service, JSON turns", store, 2, secret, "pg2", settings, work, database, log));
                if (settings.Analysis)
                {
                    // Npgsql's own options, set in the connection string the service is given: without the store's defaults
                    // (statements prepared once per connection, no DISCARD ALL each time a pooled connection is reused).
                    rows.Add(await ServiceRowAsync("postgres", "service, JSON turns, connection string + " + Unprepared,
                        new(store) { ["Server:Store"] = "postgres:" + service + ";" + Unprepared }, 1, secret, "pg1u", settings, work, database, log));
                    // PostgreSQL's plan cache: statements whose generic plan looks dearer than their custom plans are planned again on every run.
                    rows.Add(await ServiceRowAsync("postgres", "service, JSON turns, connection string + " + GenericPlans,
                        new(store) { ["Server:Store"] = "postgres:" + service + ";" + GenericPlans }, 1, secret, "pg1g", settings, work, database, log));
                }
                rows.Add(await CeilingRowAsync(database, payloadBytes, settings, log) with { Configuration = "raw BEGIN; INSERT; COMMIT (again, after the service runs)" });
                if (settings.Analysis)
                {
                    trips = await CountRoundTripsAsync(database, common, secret, work, log);
                    for (var i = 0; i < Replicas.Length; i++)
                    {
                        var (replica, replicaPhases) = await ReplicaRowAsync(database, Replicas[i], $"replica-{i}", secret, settings, log);
                        rows.Add(replica);
                        if (i == 0)
                        {
                            phases.AddRange(replicaPhases);
                        }
                    }
                    if (emulator.Requests.Snapshot() is [.., var last])
                    {
                        rows.Add(await ModelApiRowAsync(modelUrl, last.Body, settings, log));
                    }
                }
            }
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            NpgsqlConnection.ClearAllPools();
            Directory.Delete(work, recursive: true);
        }
        return new Result(rows, payloadBytes, trips, phases, durability);
    }

    // One configuration: start the instances, run the clients (split across instances), stop the instances.
    private static async Task<Row> ServiceRowAsync(string storeName, string configuration, Dictionary<string, string> serviceSettings, int instances,
        string secret, string scope, Settings settings, string work, BenchDatabase? database, TextWriter log)
    {
        var services = new List<ServiceProcess>();
        try
        {
            for (var i = 0; i < instances; i++)
            {
                services.Add(await ServiceProcess.StartAsync(serviceSettings, Path.Combine(work, $"service-{scope}-{i}")));
            }
            var before = database is null ? null : await database.CountersAsync();
            using var sampling = new CancellationTokenSource();
            var peak = database?.PeakConnectionsAsync(sampling.Token) ?? Task.FromResult(0);
            CpuSnapshot start = default, end = default;
            (double Start, double End) rss = default;
            // A fresh process JITs its code again and tiers it up under load: warm up until its CPU per turn stops falling.
            (double Cpu, long Turns, double? PerTurn) slice = (0, 0, null);
            bool Settled(long turns)
            {
                var cpu = services.Sum(s => s.CpuTime().TotalSeconds);
                var perTurn = turns > slice.Turns ? (cpu - slice.Cpu) / (turns - slice.Turns) : double.MaxValue;
                var settled = slice.PerTurn is { } previous && perTurn <= previous * 1.15 && perTurn >= previous * 0.85;
                slice = (cpu, turns, perTurn);
                return settled;
            }
            var load = await Task.Factory.StartNew(
                () => ClosedLoop.Run(settings.Clients, settings.WarmUp, settings.Duration,
                    (i, _) => new TurnClient(services[i % services.Count].Url, secret, scope, i),
                    () =>
                    {
                        start = CpuSnapshot.Take(services, database?.Name);
                        rss.Start = services.Sum(s => s.ResidentMb().Now);
                    },
                    () =>
                    {
                        end = CpuSnapshot.Take(services, database?.Name);
                        rss.End = services.Sum(s => s.ResidentMb().Now);
                    },
                    settings.Analysis ? Settled : null, settings.MaxWarmUp),
                CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            if (load.Errors > 0)
            {
                for (var i = 0; i < services.Count; i++)
                {
                    var kept = Path.Combine(Path.GetTempPath(), $"ledger-service-bench-{Environment.ProcessId}-{scope}-{i}.log");
                    log.WriteLine($"  errors; instance {i}'s log is kept in {kept}; its first errors:\n{services[i].KeepLog(kept)}");
                }
            }
            var logLines = services.Sum(s => s.LogLines());
            await sampling.CancelAsync();
            var connections = await peak;
            await DisposeAllAsync(services);
            var row = new Row(storeName, configuration, instances, load, start.Use(end, load),
                database is null ? null : await database.UseSinceAsync(before!, load.Succeeded) with { PeakConnections = connections }, rss)
            {
                LogLinesPerTurn = logLines / (double)Math.Max(1, load.Succeeded),
            };
            log.WriteLine(Describe(row));
            return row;
        }
        finally
        {
            await DisposeAllAsync(services);
        }
    }

    private static async Task DisposeAllAsync(List<ServiceProcess> services)
    {
        foreach (var service in services)
        {
            await service.DisposeAsync();
        }
        services.Clear();
        // Their backends exit and flush their statistics.
        await Task.Delay(300);
    }

    // The ceiling: the same clients, each with a connection of its own, inserting one row of a turn's size per transaction.
    private static async Task<Row> CeilingRowAsync(BenchDatabase database, int payloadBytes, Settings settings, TextWriter log)
    {
        await database.ExecuteAsync("""
            CREATE TABLE IF NOT EXISTS bench_ceiling (
                id bigserial PRIMARY KEY, thread_id text NOT NULL, sequence bigint NOT NULL, payload text NOT NULL,
                recorded_at timestamptz NOT NULL DEFAULT now())
            """);
        var payload = ScenarioText.OfTokens(payloadBytes / 4, "", seed: 3);
        payload = payload.Length >= payloadBytes ? payload[..payloadBytes] : payload.PadRight(payloadBytes, '.');
        var unpooled = new NpgsqlConnectionStringBuilder(database.ConnectionString) { Pooling = false }.ConnectionString;
        var before = await database.CountersAsync();
        CpuSnapshot start = default, end = default;
        var load = await Task.Factory.StartNew(
            () => ClosedLoop.Run(settings.Clients, settings.ShortWarmUp, settings.Duration, (i, _) => new InsertClient(unpooled, i, payload),
                () => start = CpuSnapshot.Take([], database.Name), () => end = CpuSnapshot.Take([], database.Name)),
            CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        await Task.Delay(300);
        var row = new Row("postgres", "raw BEGIN; INSERT; COMMIT", 0, load, start.Use(end, load), await database.UseSinceAsync(before, load.Succeeded), null)
        {
            IsCeiling = true,
        };
        log.WriteLine(Describe(row));
        return row;
    }

    // One instance whose store and service tables are reached through counting relays; one client sends turns one at a time.
    private static async Task<RoundTrips> CountRoundTripsAsync(BenchDatabase database, Dictionary<string, string> common, string secret, string work, TextWriter log)
    {
        var target = new NpgsqlConnectionStringBuilder(database.ConnectionString);
        await using var storeRelay = new RoundTripProxy(target.Host!, target.Port);
        await using var stateRelay = new RoundTripProxy(target.Host!, target.Port);
        string Through(RoundTripProxy relay) => new NpgsqlConnectionStringBuilder(database.ConnectionString) { Port = relay.Port }.ConnectionString;
        var settings = new Dictionary<string, string>(common)
        {
            ["Server:Store"] = "postgres:" + Through(storeRelay),
            ["Server:State"] = "postgres:" + Through(stateRelay),
        };
        await using var service = await ServiceProcess.StartAsync(settings, Path.Combine(work, "service-trips"));
        using var client = new TurnClient(service.Url, secret, "trips", 0);
        for (var n = 0; n < 5; n++)
        {
            Check(client.Send(n)); // first use: schema checks, pools, the first exchange's pins
        }
        const int turns = 40;
        double rawTrips;
        var (store0, state0, connections0) = (storeRelay.RoundTrips, stateRelay.RoundTrips, storeRelay.Connections + stateRelay.Connections);
        for (var n = 0; n < turns; n++)
        {
            Check(client.Send(5 + n));
        }
        // The ceiling's transaction, through a relay of its own.
        await using var rawRelay = new RoundTripProxy(target.Host!, target.Port);
        using (var raw = new InsertClient(new NpgsqlConnectionStringBuilder(Through(rawRelay)) { Pooling = false }.ConnectionString, 0, "x"))
        {
            raw.Send(0);
            var raw0 = rawRelay.RoundTrips;
            for (var n = 0; n < turns; n++)
            {
                raw.Send(n);
            }
            rawTrips = (rawRelay.RoundTrips - raw0) / (double)turns;
        }
        var trips = new RoundTrips(turns, (storeRelay.RoundTrips - store0) / (double)turns, (stateRelay.RoundTrips - state0) / (double)turns,
            (storeRelay.Connections + stateRelay.Connections - connections0) / (double)turns, rawTrips);
        log.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  round trips per turn ({turns} turns, one client): ledger store {trips.Store:N2}, service tables {trips.State:N2}, new connections {trips.Connections:N2}; raw insert transaction {trips.Ceiling:N2}"));
        return trips;

        static void Check(string? error)
        {
            if (error is not null)
            {
                throw new InvalidOperationException("a turn through the counting relay failed: " + error);
            }
        }
    }

    // The store and state calls of a service turn, made in-process in the order the service makes them, each timed.
    private static async Task<(Row Row, IReadOnlyList<Phase> Phases)> ReplicaRowAsync(BenchDatabase database, Replica replica, string scope, string secret,
        Settings settings, TextWriter log)
    {
        var connectionString = replica.ConnectionOptions.Length == 0 ? database.ConnectionString : database.ConnectionString + ";" + replica.ConnectionOptions;
        // One pool for both, as an instance has when its tables are in the store's database.
        await using var store = new PostgresConversationStore(connectionString);
        await using var state = ServiceState.Postgres(store.DataSource);
        var plan = HistoryPolicies.Parse(Policy).Plan();
        var timings = ReplicaClient.Names.Select(_ => new List<double>()).ToArray();
        var before = await database.CountersAsync();
        CpuSnapshot start = default, end = default;
        var load = await Task.Factory.StartNew(
            () => ClosedLoop.Run(settings.Clients, settings.ShortWarmUp, settings.Duration,
                (i, window) => new ReplicaClient(state, store, plan, replica, scope, secret, i, window, timings),
                () => start = CpuSnapshot.Take([], database.Name), () => end = CpuSnapshot.Take([], database.Name)),
            CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        NpgsqlConnection.ClearAllPools();
        await Task.Delay(300);
        var row = new Row("postgres", replica.Name, 0, load, start.Use(end, load),
            await database.UseSinceAsync(before, load.Succeeded), null);
        log.WriteLine(Describe(row));
        var phases = ReplicaClient.Names.Select((name, i) =>
        {
            var sorted = timings[i].Order().ToArray();
            return new Phase(name, sorted.Length == 0 ? 0 : sorted.Average(), sorted.Length == 0 ? 0 : sorted[Math.Max(0, (int)Math.Ceiling(0.99 * sorted.Length) - 1)]);
        }).ToArray();
        return (row, phases);
    }

    // The model API alone: the same clients sending the service's last model request straight to the emulator.
    private static async Task<Row> ModelApiRowAsync(string modelUrl, string body, Settings settings, TextWriter log)
    {
        CpuSnapshot start = default, end = default;
        var load = await Task.Factory.StartNew(
            () => ClosedLoop.Run(settings.Clients, settings.ShortWarmUp, settings.Duration, (_, _) => new ModelCallClient(modelUrl, body),
                () => start = CpuSnapshot.Take([], null), () => end = CpuSnapshot.Take([], null)),
            CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        var row = new Row("–", "model API alone: the emulator answering the service's request (streamed)", 0, load, start.Use(end, load), null, null);
        log.WriteLine(Describe(row));
        return row;
    }

    private static string Describe(Row row) => string.Create(CultureInfo.InvariantCulture,
        $"  {row.Store}, {row.Configuration}{(row.Instances > 0 ? $", {row.Instances} instance(s)" : "")} (after {row.Load.WarmUpSeconds:N0} s of warm-up): {row.Load.PerSecond:N0}/s, p50 {row.Load.Percentile(0.5):N1} ms, p99 {row.Load.Percentile(0.99):N1} ms, {row.Load.Errors} errors{(row.Load.FirstError is { } e ? " (first: " + e + ")" : "")}");

    /// <summary>The main table: rate, latency, errors, share of the ceiling, and who used the CPU.</summary>
    public static string Table(Result result)
    {
        var ceilings = result.Rows.Where(r => r.IsCeiling).Select(r => r.Load.PerSecond).ToArray();
        var ceiling = ceilings.Length > 0 ? ceilings.Average() : (double?)null;
        var table = new StringBuilder();
        table.AppendLine("| store | what | instances | warm-up s | turns/s | p50 ms | p99 ms | errors | % of ceiling | CPU ms/turn: service | CPU ms/turn: bench process (clients, emulator) | CPU ms/turn: PostgreSQL | machine busy | other load (cores) | service RSS MB: window start → end | service log lines/turn |");
        table.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in result.Rows)
        {
            var share = r.Store == "postgres" && ceiling is { } c && !r.IsCeiling ? (r.Load.PerSecond / c * 100).ToString("N1", CultureInfo.InvariantCulture) + " %" : "–";
            table.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Store} | {r.Configuration} | {(r.Instances > 0 ? r.Instances.ToString(CultureInfo.InvariantCulture) : "–")} | {r.Load.WarmUpSeconds:N0} | {r.Load.PerSecond:N0} | {r.Load.Percentile(0.5):N1} | {r.Load.Percentile(0.99):N1} | {r.Load.Errors} | {share} | {(r.Instances > 0 ? r.Cpu.ServiceMs.ToString("N2", CultureInfo.InvariantCulture) : "–")} | {r.Cpu.BenchMs:N2} | {(r.Store == "postgres" ? r.Cpu.PostgresMs.ToString("N2", CultureInfo.InvariantCulture) : "–")} | {r.Cpu.MachineBusyPercent:N0} % | {r.Cpu.OtherCores:N2} | {(r.ServiceRssMb is { } mb ? string.Create(CultureInfo.InvariantCulture, $"{mb.Start:N0} → {mb.End:N0}") : "–")} | {(r.LogLinesPerTurn is { } lines ? lines.ToString("N1", CultureInfo.InvariantCulture) : "–")} |"));
        }
        if (ceiling is { } mean)
        {
            table.AppendLine();
            table.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"Ceiling: {mean:N0} single-row transactions/s (mean of {ceilings.Length} runs: {string.Join(", ", ceilings.Select(x => x.ToString("N0", CultureInfo.InvariantCulture)))}); row payload {result.TurnPayloadBytes:N0} bytes (a turn's three entries, measured); {result.Durability}."));
            foreach (var r in result.Rows.Where(r => r.Store == "postgres" && r.Instances > 0))
            {
                var met = r.Load.PerSecond / mean >= 0.5 ? "met" : "missed";
                var variant = r.Configuration.Split("connection string + ") is [_, var options] ? $" ({options})" : "";
                // Everything shares these cores: without any database work, the service and the bench process alone allow at most this.
                var bound = Environment.ProcessorCount * 1000 / (r.Cpu.ServiceMs + r.Cpu.BenchMs);
                table.AppendLine(string.Create(CultureInfo.InvariantCulture,
                    $"Target ≥ 50 % of the ceiling, {r.Instances} instance(s){variant}: {r.Load.PerSecond / mean * 100:N1} % — {met}. " +
                    $"Even if PostgreSQL's work were free, the service and the bench process ({r.Cpu.ServiceMs:N2} + {r.Cpu.BenchMs:N2} ms of CPU per turn) " +
                    $"allow at most {bound:N0} turns/s on these {Environment.ProcessorCount} cores: {bound / mean * 100:N1} % of the ceiling."));
            }
        }
        return table.ToString();
    }

    /// <summary>What PostgreSQL did per operation: transactions, WAL, and the rows and index lookups per table.</summary>
    public static string DatabaseTable(Result result)
    {
        var rows = result.Rows.Where(r => r.Db is not null).ToArray();
        if (rows.Length == 0)
        {
            return "";
        }
        static bool Active(TableUse u) => u.IndexScans + u.SeqScans + u.Inserted + u.Updated + u.Deleted > 0.005;
        // Only the tables something in the runs used.
        var tables = rows.SelectMany(r => r.Db!.Tables.Where(Active).Select(t => t.Table)).Distinct().Order(StringComparer.Ordinal).ToArray();
        var text = new StringBuilder();
        text.AppendLine("| what | instances | peak connections | transactions/op | WAL syncs/op | WAL KB/op | " + string.Join(" | ", tables.Select(t => $"{t}: index scans / seq scans / ins / upd / del")) + " |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|" + string.Concat(tables.Select(_ => "---:|")));
        foreach (var r in rows)
        {
            var cells = tables.Select(t => r.Db!.Tables.FirstOrDefault(u => u.Table == t) is { } u && Active(u)
                ? string.Create(CultureInfo.InvariantCulture, $"{u.IndexScans:N2} / {u.SeqScans:N2} / {u.Inserted:N2} / {u.Updated:N2} / {u.Deleted:N2}")
                : "–");
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Configuration} | {(r.Instances > 0 ? r.Instances.ToString(CultureInfo.InvariantCulture) : "–")} | {(r.Db!.PeakConnections is { } c ? c.ToString(CultureInfo.InvariantCulture) : "–")} | {r.Db.Transactions:N2} | {r.Db.WalSyncs:N2} | {r.Db.WalKb:N2} | {string.Join(" | ", cells)} |"));
        }
        return text.ToString();
    }

    /// <summary>Round trips per turn, and where the time of a turn's database calls goes under the full load.</summary>
    public static string ProfileTable(Result result)
    {
        var text = new StringBuilder();
        if (result.Trips is { } trips)
        {
            text.AppendLine("| round trips per service turn (counted by a relay, one client, 40 turns) | ledger store | service tables | total | new connections |");
            text.AppendLine("|---|---:|---:|---:|---:|");
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| service, JSON turn | {trips.Store:N2} | {trips.State:N2} | {trips.Store + trips.State:N2} | {trips.Connections:N2} |"));
            text.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| raw BEGIN; INSERT; COMMIT (the ceiling) | {trips.Ceiling:N2} | – | {trips.Ceiling:N2} | 0 |"));
            text.AppendLine();
        }
        if (result.Phases.Count > 0)
        {
            var total = result.Phases.Sum(p => p.MeanMs);
            text.AppendLine($"| call of the in-process replica ({result.Rows.FirstOrDefault(r => r.Configuration == Replicas[0].Name)?.Load.PerSecond.ToString("N0", CultureInfo.InvariantCulture)} turns/s) | mean ms | p99 ms | share of the turn |");
            text.AppendLine("|---|---:|---:|---:|");
            foreach (var p in result.Phases)
            {
                text.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| {p.Name} | {p.MeanMs:N2} | {p.P99Ms:N2} | {p.MeanMs / total * 100:N0} % |"));
            }
            text.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| whole turn | {total:N2} | | 100 % |"));
        }
        return text.ToString();
    }

    private readonly record struct CpuSnapshot(long Timestamp, double Service, double Bench, IReadOnlyDictionary<int, double>? Postgres, double MachineBusy, double MachineTotal)
    {
        /// <param name="database">The PostgreSQL database whose backends count (null: PostgreSQL is not measured).</param>
        public static CpuSnapshot Take(IReadOnlyList<ServiceProcess> services, string? database)
        {
            using var self = Process.GetCurrentProcess();
            var (busy, total) = ProcCounters.Machine();
            return new CpuSnapshot(Stopwatch.GetTimestamp(), services.Sum(s => s.CpuTime().TotalSeconds), self.TotalProcessorTime.TotalSeconds,
                database is null ? null : ProcCounters.PostgresProcesses(database), busy, total);
        }

        public CpuUse Use(CpuSnapshot end, LoadResult load)
        {
            var operations = Math.Max(1, load.Operations);
            var seconds = Stopwatch.GetElapsedTime(Timestamp, end.Timestamp).TotalSeconds;
            // Per process: a backend that started in the window counts whole, one that exited in it is lost (a few at most).
            var before = Postgres;
            var postgres = end.Postgres?.Sum(p => p.Value - (before?.GetValueOrDefault(p.Key) ?? 0)) ?? 0;
            var (service, bench) = (end.Service - Service, end.Bench - Bench);
            var busy = end.MachineBusy - MachineBusy;
            var total = end.MachineTotal - MachineTotal;
            return new CpuUse(service * 1000 / operations, bench * 1000 / operations, postgres * 1000 / operations,
                total > 0 ? busy / total * 100 : 0, seconds > 0 ? Math.Max(0, busy - service - bench - postgres) / seconds : 0);
        }
    }

    /// <summary>An HTTP client with one connection to one instance, sending JSON turns on its own conversation thread.</summary>
    private sealed class TurnClient : ILoadClient
    {
        private readonly HttpClient _http;
        private readonly Uri _turns;
        private readonly byte[][] _bodies;

        public TurnClient(string baseUrl, string secret, string scope, int index)
        {
            _http = new HttpClient(new SocketsHttpHandler { UseProxy = false, MaxConnectionsPerServer = 1 })
            {
                BaseAddress = new Uri(baseUrl),
                Timeout = TimeSpan.FromSeconds(60),
            };
            _http.DefaultRequestHeaders.Add("x-api-key", secret);
            var id = $"client-{index}";
            using (var create = Post(new Uri("/v1/threads", UriKind.Relative), JsonSerializer.SerializeToUtf8Bytes(new { scope, id })))
            {
                if ((int)create.StatusCode != 201)
                {
                    throw new InvalidOperationException($"creating thread {scope}/{id}: HTTP {(int)create.StatusCode} {Body(create)}");
                }
            }
            _turns = new Uri($"/v1/threads/{scope}/{id}/turns", UriKind.Relative);
            _bodies = Enumerable.Range(0, 4)
                .Select(v => JsonSerializer.SerializeToUtf8Bytes(new { content = ScenarioText.OfTokens(QuestionTokens, $"Client {index}, question {v}:", seed: index * 4 + v) }))
                .ToArray();
            // A first turn before the start: a fresh process's first requests pay for its cold paths (seconds, on this machine).
            if (Send(-1) is { } error)
            {
                throw new InvalidOperationException($"the first turn on {scope}/{id} failed: {error}");
            }
        }

        public string? Send(long n)
        {
            using var response = Post(_turns, _bodies[(n + _bodies.Length) % _bodies.Length]);
            var body = Body(response);
            return (int)response.StatusCode == 200 && body.Contains("\"committed\"", StringComparison.Ordinal)
                ? null
                : $"HTTP {(int)response.StatusCode}: {body[..Math.Min(300, body.Length)]}";
        }

        private HttpResponseMessage Post(Uri uri, byte[] body)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            return _http.Send(request, HttpCompletionOption.ResponseContentRead);
        }

        private static string Body(HttpResponseMessage response)
        {
            using var reader = new StreamReader(response.Content.ReadAsStream());
            return reader.ReadToEnd();
        }

        public void Dispose() => _http.Dispose();
    }

    /// <summary>A connection of its own, inserting one row per transaction (the ceiling).</summary>
    private sealed class InsertClient : ILoadClient
    {
        private readonly NpgsqlConnection _connection;
        private readonly NpgsqlCommand _insert;

        public InsertClient(string connectionString, int index, string payload)
        {
            _connection = new NpgsqlConnection(connectionString);
            _connection.Open();
            _insert = new NpgsqlCommand("INSERT INTO bench_ceiling (thread_id, sequence, payload) VALUES (@thread, @sequence, @payload)", _connection);
            _insert.Parameters.AddWithValue("thread", $"client-{index}");
            _insert.Parameters.AddWithValue("sequence", 0L);
            _insert.Parameters.AddWithValue("payload", payload);
        }

        public string? Send(long n)
        {
            using var transaction = _connection.BeginTransaction();
            _insert.Transaction = transaction;
            _insert.Parameters[1].Value = n;
            _insert.ExecuteNonQuery();
            transaction.Commit();
            return null;
        }

        public void Dispose()
        {
            _insert.Dispose();
            _connection.Dispose();
        }
    }

    /// <summary>
    /// What a service JSON turn asks of its databases, in its order (auth, thread row, lease, window, append ending the lease, activity),
    /// over one shared <see cref="ServiceState"/> and store as an instance has them, each call timed.
    /// </summary>
    private sealed class ReplicaClient : ILoadClient
    {
        public static readonly string[] Names =
        [
            "API key lookup (service tables)", "thread row read (service tables)", "lease take with the window read (store)",
            "append, ending the lease (store)", "activity update (service tables)",
        ];

        private readonly ServiceState _state;
        private readonly PostgresConversationStore _store;
        private readonly WindowSpec _plan;
        private readonly Replica _replica;
        private readonly string _secret;
        private readonly ThreadKey _key;
        private readonly LoadWindow _window;
        private readonly List<double>[] _timings;
        private readonly List<double>[] _mine;
        private readonly string[] _questions;

        public ReplicaClient(ServiceState state, PostgresConversationStore store, WindowSpec plan, Replica replica, string scope, string secret, int index,
            LoadWindow window, List<double>[] timings)
        {
            (_state, _store, _plan, _replica, _secret, _window, _timings) = (state, store, plan, replica, secret, window, timings);
            _key = new ThreadKey(Tenant, scope, $"client-{index}");
            _mine = [.. Names.Select(_ => new List<double>())];
            _questions = [.. Enumerable.Range(0, 4).Select(v => ScenarioText.OfTokens(QuestionTokens, $"Client {index}, question {v}:", seed: index * 4 + v))];
            if (!state.CreateThreadAsync(new ThreadInfo { Key = _key }).GetAwaiter().GetResult())
            {
                throw new InvalidOperationException($"thread {_key} exists already");
            }
        }

        public string? Send(long n)
        {
            var marks = new long[Names.Length + 1];
            marks[0] = Stopwatch.GetTimestamp();
            if (_replica.ServiceReads && _state.AuthenticateAsync(_secret).GetAwaiter().GetResult() != Tenant)
            {
                return "the key did not authenticate";
            }
            marks[1] = Stopwatch.GetTimestamp();
            if (_replica.ServiceReads && _state.GetThreadAsync(_key).GetAwaiter().GetResult() is null)
            {
                return "no thread row";
            }
            marks[2] = Stopwatch.GetTimestamp();
            var holder = Guid.CreateVersion7().ToString("N");
            var window = _replica.Lease
                ? _store.TryAcquireTurnLeaseAndReadWindowAsync(_key, holder, TimeSpan.FromMinutes(2), _plan).GetAwaiter().GetResult()
                : _store.ReadWindowAsync(_key, _plan).GetAwaiter().GetResult();
            if (window is null)
            {
                return "lease refused";
            }
            marks[3] = Stopwatch.GetTimestamp();
            var turnId = Guid.CreateVersion7().ToString("N");
            var question = _questions[n % _questions.Length];
            LedgerEntry[] entries =
            [
                new MessageEntry(Message.User(question)) { TurnId = turnId, Tokens = QuestionTokens },
                new MessageEntry(Message.Assistant($"[emulator] I can see {window.Entries.Count + 1} messages. Latest: \"{question[..60]}…\".")) { TurnId = turnId, Tokens = 40 },
                new UsageEntry(new UsageRecord(Model, new TokenUsage { InputTokens = 3000, OutputTokens = 40 }, 0.0032m, "msg_replica", "end_turn")) { TurnId = turnId },
            ];
            var stored = (_replica.Lease
                ? _store.AppendAndReleaseTurnLeaseAsync(_key, window.Head.LastSequence, entries, holder)
                : _store.AppendAsync(_key, window.Head.LastSequence, entries)).GetAwaiter().GetResult();
            marks[4] = Stopwatch.GetTimestamp();
            if (_replica.Activity)
            {
                _state.RecordActivityAsync(stored.Head, [((UsageEntry)entries[2]).Record]).GetAwaiter().GetResult();
            }
            marks[5] = Stopwatch.GetTimestamp();
            if (_window.Contains(marks[5]))
            {
                for (var i = 0; i < Names.Length; i++)
                {
                    _mine[i].Add(Stopwatch.GetElapsedTime(marks[i], marks[i + 1]).TotalMilliseconds);
                }
            }
            return null;
        }

        public void Dispose()
        {
            lock (_timings)
            {
                for (var i = 0; i < Names.Length; i++)
                {
                    _timings[i].AddRange(_mine[i]);
                }
            }
        }
    }

    /// <summary>Sends one fixed Messages API request to the emulator and reads the whole (streamed) answer.</summary>
    private sealed class ModelCallClient(string modelUrl, string body) : ILoadClient
    {
        private readonly HttpClient _http = new(new SocketsHttpHandler { UseProxy = false, MaxConnectionsPerServer = 1 }) { Timeout = TimeSpan.FromSeconds(60) };
        private readonly Uri _messages = new(modelUrl + "/v1/messages");
        private readonly byte[] _body = Encoding.UTF8.GetBytes(body);

        public string? Send(long n)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, _messages) { Content = new ByteArrayContent(_body) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            request.Headers.Add("x-api-key", "emulator");
            request.Headers.Add("anthropic-version", "2023-06-01");
            using var response = _http.Send(request, HttpCompletionOption.ResponseContentRead);
            using var reader = new StreamReader(response.Content.ReadAsStream());
            var text = reader.ReadToEnd();
            return response.IsSuccessStatusCode && text.Contains("message_stop", StringComparison.Ordinal) ? null : $"HTTP {(int)response.StatusCode}: {text[..Math.Min(300, text.Length)]}";
        }

        public void Dispose() => _http.Dispose();
    }

    /// <summary>A PostgreSQL database created for one run (dropped after it), and the statistics read from it.</summary>
    private sealed class BenchDatabase : IAsyncDisposable
    {
        private readonly string _admin;

        private BenchDatabase(string admin, string name)
        {
            _admin = admin;
            Name = name;
            ConnectionString = new NpgsqlConnectionStringBuilder(admin) { Database = name }.ConnectionString;
        }

        public string Name { get; }

        public string ConnectionString { get; }

        public static async Task<BenchDatabase> CreateAsync(string admin)
        {
            var database = new BenchDatabase(admin, $"ledger_bench_service_{Environment.ProcessId}");
            await database.AdminAsync($"DROP DATABASE IF EXISTS {database.Name} WITH (FORCE)");
            await database.AdminAsync($"CREATE DATABASE {database.Name}");
            return database;
        }

        public async Task<string> DurabilityAsync()
        {
            var settings = new List<string>();
            foreach (var name in (string[])["fsync", "synchronous_commit", "wal_sync_method", "commit_delay"])
            {
                settings.Add($"{name}={await ScalarAsync($"SHOW {name}")}");
            }
            return string.Join(", ", settings);
        }

        /// <summary>Connection slots the server has left (max_connections less every connection open, other users' included).</summary>
        public async Task<long> FreeConnectionsAsync() => Convert.ToInt64(
            await ScalarAsync("SELECT current_setting('max_connections')::int - (SELECT count(*) FROM pg_stat_activity)"), CultureInfo.InvariantCulture);

        /// <summary>Samples the connections to this database every 200 ms until cancelled; returns the most seen (this sampler's own excluded).</summary>
        public async Task<int> PeakConnectionsAsync(CancellationToken cancellationToken)
        {
            await using var connection = await OpenAsync();
            await using var command = new NpgsqlCommand("SELECT count(*) - 1 FROM pg_stat_activity WHERE datname = current_database()", connection);
            var peak = 0;
            try
            {
                while (true)
                {
                    peak = Math.Max(peak, Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture));
                    await Task.Delay(200, cancellationToken);
                }
            }
            catch (OperationCanceledException)
            {
                return peak;
            }
        }

        public async Task ExecuteAsync(string sql)
        {
            await using var connection = await OpenAsync();
            await using var command = new NpgsqlCommand(sql, connection);
            await command.ExecuteNonQueryAsync();
        }

        /// <summary>The mean size of a stored turn's three entries (question, reply, usage), in payload bytes.</summary>
        public async Task<int> TurnPayloadBytesAsync() => (int)Math.Round(Convert.ToDouble(await ScalarAsync(
            "SELECT avg(bytes) FROM (SELECT sum(octet_length(payload)) AS bytes FROM entries WHERE turn_id IS NOT NULL AND kind IN ('message', 'usage') GROUP BY turn_id HAVING count(*) = 3) t"),
            CultureInfo.InvariantCulture));

        public async Task<Counters> CountersAsync()
        {
            await using var connection = await OpenAsync();
            long[] Numbers(NpgsqlDataReader r) => [.. Enumerable.Range(1, r.FieldCount - 1).Select(i => r.IsDBNull(i) ? 0 : Convert.ToInt64(r.GetValue(i), CultureInfo.InvariantCulture))];
            var tables = new Dictionary<string, long[]>(StringComparer.Ordinal);
            await using (var command = new NpgsqlCommand("SELECT relname, idx_scan, seq_scan, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables", connection))
            await using (var reader = await command.ExecuteReaderAsync())
            {
                while (await reader.ReadAsync())
                {
                    tables[reader.GetString(0)] = Numbers(reader);
                }
            }
            await using (var command = new NpgsqlCommand(
                "SELECT 0, d.xact_commit + d.xact_rollback, w.wal_sync, w.wal_bytes FROM pg_stat_database d, pg_stat_wal w WHERE d.datname = current_database()", connection))
            await using (var reader = await command.ExecuteReaderAsync())
            {
                await reader.ReadAsync();
                return new Counters(Numbers(reader), tables);
            }
        }

        public async Task<DbUse> UseSinceAsync(Counters before, long operations)
        {
            var after = await CountersAsync();
            var per = Math.Max(1, operations);
            var tables = after.Tables.Select(t =>
            {
                var b = before.Tables.GetValueOrDefault(t.Key) ?? new long[5];
                double D(int i) => (t.Value[i] - b[i]) / (double)per;
                return new TableUse(t.Key, D(0), D(1), D(2), D(3), D(4));
            }).ToArray();
            return new DbUse((after.Database[0] - before.Database[0]) / (double)per, (after.Database[1] - before.Database[1]) / (double)per,
                (after.Database[2] - before.Database[2]) / 1024.0 / per, tables);
        }

        public async ValueTask DisposeAsync()
        {
            NpgsqlConnection.ClearAllPools();
            await AdminAsync($"DROP DATABASE IF EXISTS {Name} WITH (FORCE)");
        }

        private async Task<object?> ScalarAsync(string sql)
        {
            await using var connection = await OpenAsync();
            await using var command = new NpgsqlCommand(sql, connection);
            return await command.ExecuteScalarAsync();
        }

        // Unpooled: each look at the statistics is a new backend, and an ended one has flushed its own.
        private async Task<NpgsqlConnection> OpenAsync()
        {
            var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(ConnectionString) { Pooling = false }.ConnectionString);
            await connection.OpenAsync();
            return connection;
        }

        private async Task AdminAsync(string sql)
        {
            await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(_admin) { Pooling = false }.ConnectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(sql, connection);
            await command.ExecuteNonQueryAsync();
        }

        /// <summary>Transactions, WAL syncs and WAL bytes; per table: index scans, sequential scans, rows inserted, updated, deleted.</summary>
        public sealed record Counters(long[] Database, IReadOnlyDictionary<string, long[]> Tables);
    }
}
