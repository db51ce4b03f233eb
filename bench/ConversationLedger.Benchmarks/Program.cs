using System.Globalization;
using BenchmarkDotNet.Running;
using ConversationLedger.Benchmarks;

// `scenario tokens [--turns N]` (or plain `scenario`): the whole-conversation token economy.
// `scenario overhead [--lengths 10,1000,…] [--turns N] [--postgres CONN] [--stores memory,sqlite,postgres] [--analyze]`:
//   per-turn cost against thread length (--analyze refreshes PostgreSQL's statistics after the bulk fill).
// `scenario streaming [--runs N] [--history N]`: time to first token through the ledger vs the SDK alone.
// `scenario estimate [--turns N]`: token counter throughput and the calibrated estimate's error.
// `scenario agent [--turns N] [--calls N]`: an agent's tool loop with thinking on: cost, cache hits, and whether the API's checks pass.
// `scenario system-change [--turns N] [--at T]`: the token economy with the system prompt changed at turn T, swapped vs sent as a system message.
// `scenario writers [--writers N] [--seconds S] [--latency-ms L]`: N writers on one thread: model calls per stored turn, lease off and on.
// `scenario service [--clients N] [--seconds S] [--warmup S] [--postgres CONN] [--stores sqlite,postgres] [--pool N] [--server DLL]`: the conversation service's JSON turns/s
//   from N HTTP clients (real service processes, in-process zero-latency emulator), against PostgreSQL's raw insert ceiling.
//   --server DLL runs that server assembly (a ReadyToRun publish, say) instead of the one built beside the bench.
// `scenario smoke`: every scenario at tiny sizes (seconds; CI runs it; no timing is checked).
// Anything else goes to BenchmarkDotNet.
string? Option(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
int IntOption(string name, int fallback) => int.Parse(Option(name) ?? fallback.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
var postgres = Option("--postgres") ?? Environment.GetEnvironmentVariable("LEDGER_BENCH_POSTGRES");
var scenario = args.Length > 0 && args[0] == "scenario" ? (args.Length > 1 && !args[1].StartsWith("--", StringComparison.Ordinal) ? args[1] : "tokens") : null;

switch (scenario)
{
    case null:
        BenchmarkSwitcher.FromAssembly(typeof(TokenEconomyScenario).Assembly).Run(args);
        return 0;
    case "overhead":
        var lengths = (Option("--lengths") ?? "10,1000,10000,100000").Split(',').Select(long.Parse).ToArray();
        await OverheadAsync(lengths, IntOption("--turns", 200));
        return 0;
    case "streaming":
        await StreamingAsync(IntOption("--runs", 300), IntOption("--history", 20));
        return 0;
    case "estimate":
        await EstimateAsync(IntOption("--turns", 100), 2000);
        return 0;
    case "tokens":
        await TokensAsync(IntOption("--turns", 200));
        return 0;
    case "agent":
        await AgentAsync(IntOption("--turns", 40), IntOption("--calls", 40));
        return 0;
    case "system-change":
        await SystemChangeAsync(IntOption("--turns", 200), IntOption("--at", 100));
        return 0;
    case "writers":
        await WritersAsync(IntOption("--writers", 100), IntOption("--seconds", 5), IntOption("--latency-ms", 20));
        return 0;
    case "service":
        ServiceProcess.Override = Option("--server");
        await ServiceAsync(IntOption("--clients", 64), IntOption("--seconds", 12), IntOption("--warmup", 20), Option("--stores")?.Split(',').ToHashSet(StringComparer.Ordinal), analysis: true,
            Option("--pool") is { } pool ? int.Parse(pool, CultureInfo.InvariantCulture) : null);
        return 0;
    case "smoke":
        // Tiny sizes of everything, so CI proves every scenario still runs end to end.
        await OverheadAsync([10, 200], 3, warmUp: false);
        await StreamingAsync(4, 4);
        await EstimateAsync(5, 50);
        await TokensAsync(6);
        await AgentAsync(4, 3);
        await SystemChangeAsync(6, 4);
        await WritersAsync(4, 1, 1);
        await ServiceAsync(3, 1, 0.3, new HashSet<string>(StringComparer.Ordinal) { "sqlite" }, analysis: false);
        var counting = new TokenCountingBenchmarks();
        counting.Setup();
        Console.WriteLine($"token counting benchmark bodies: {counting.BareTokenizer()}, {counting.CounterMessage()}, {counting.CounterRequest()}");
        Console.WriteLine("smoke: every scenario ran");
        return 0;
    default:
        Console.Error.WriteLine($"unknown scenario '{scenario}': tokens, agent, system-change, writers, service, overhead, streaming, estimate or smoke");
        return 2;
}

async Task WritersAsync(int writers, int seconds, int latencyMs)
{
    Console.WriteLine($"concurrent writers: {writers} on one thread for {seconds} s each, model latency {latencyMs} ms");
    var rows = await ConcurrentWriters.RunAsync(writers, TimeSpan.FromSeconds(seconds), TimeSpan.FromMilliseconds(latencyMs), Console.Out);
    Console.WriteLine();
    Console.Write(ConcurrentWriters.Table(rows));
}

async Task ServiceAsync(int clients, int seconds, double warmUpSeconds, HashSet<string>? stores, bool analysis, int? poolSize = null)
{
    stores ??= ["sqlite", "postgres"];
    Console.WriteLine($"service throughput: {clients} HTTP clients on threads of their own, {warmUpSeconds} s warm-up (a fresh service: until its CPU per turn settles) + {seconds} s per configuration, " +
        $"model {ServiceThroughput.Model}, policy {ServiceThroughput.Policy}{(postgres is null && stores.Contains("postgres") ? " (no --postgres: PostgreSQL skipped)" : "")}");
    var result = await ServiceThroughput.RunAsync(
        new ServiceThroughput.Settings(clients, TimeSpan.FromSeconds(seconds), TimeSpan.FromSeconds(warmUpSeconds), postgres, stores, analysis, poolSize), Console.Out);
    Console.WriteLine();
    Console.Write(ServiceThroughput.Table(result));
    Console.WriteLine();
    Console.Write(ServiceThroughput.DatabaseTable(result));
    Console.WriteLine();
    Console.Write(ServiceThroughput.ProfileTable(result));
    if (result.Rows.FirstOrDefault(r => r.Load.Errors > 0) is { } failed)
    {
        throw new InvalidOperationException($"{failed.Store}, {failed.Configuration}: {failed.Load.Errors} errors (first: {failed.Load.FirstError})");
    }
    if (result.Rows.FirstOrDefault(r => r.Load.Operations == 0) is { } idle)
    {
        throw new InvalidOperationException($"{idle.Store}, {idle.Configuration}: no operation completed in the measured window");
    }
}

async Task OverheadAsync(long[] lengths, int turns, bool warmUp = true)
{
    Console.WriteLine($"per-turn overhead: {turns} turns at {string.Join(", ", lengths)} messages{(postgres is null ? " (no --postgres: PostgreSQL skipped)" : "")}");
    var stores = Option("--stores")?.Split(',').ToHashSet(StringComparer.Ordinal);
    var result = await PerTurnOverhead.RunAsync(lengths, turns, postgres, Console.Out, new PerTurnOverhead.Options(stores, args.Contains("--analyze"), warmUp));
    Console.WriteLine();
    Console.Write(PerTurnOverhead.Table(result.Rows));
    Console.WriteLine();
    Console.Write(PerTurnOverhead.FlatnessTable(result.Rows));
    Console.WriteLine();
    Console.Write(TurnPhases.Table(result.Phases));
    Console.WriteLine();
    Console.Write(PerTurnOverhead.WalTable(result.Wal));
    Console.WriteLine();
    using var process = System.Diagnostics.Process.GetCurrentProcess();
    Console.WriteLine($"process peak working set: {process.PeakWorkingSet64 / 1048576.0:N0} MB");
}

async Task StreamingAsync(int runs, int history)
{
    Console.WriteLine($"streaming: {runs} alternating pairs, {history} history messages");
    var result = await StreamingOverhead.RunAsync(runs, history, Console.Out);
    Console.WriteLine();
    Console.Write(StreamingOverhead.Table(result));
}

async Task EstimateAsync(int turns, int throughputMs)
{
    Console.WriteLine($"token estimation: {turns} turns against the emulator");
    var result = await TokenEstimation.RunAsync(turns, throughputMs, Console.Out);
    Console.WriteLine();
    Console.Write(TokenEstimation.Table(result));
}

async Task TokensAsync(int turns)
{
    Console.WriteLine($"token economy: {turns} turns per policy");
    var rows = await TokenEconomyScenario.RunAsync(turns, Console.Out);
    Console.WriteLine();
    Console.Write(TokenEconomyScenario.Table(rows));
}

async Task SystemChangeAsync(int turns, int at)
{
    Console.WriteLine($"system prompt change: {turns} turns, the instructions change at turn {at}; top-level swap vs mid-conversation system message");
    var rows = await TokenEconomyScenario.SwapVsMessageAsync(turns, at, Console.Out);
    Console.WriteLine();
    Console.Write(TokenEconomyScenario.ChangeTable(rows));
}

async Task AgentAsync(int turns, int calls)
{
    Console.WriteLine($"agent loop: {turns} turns, then {calls} tool calls, per policy, thinking on");
    var rows = await AgentLoopScenario.RunAsync(turns, calls, Console.Out);
    Console.WriteLine();
    Console.Write(AgentLoopScenario.Table(rows));
    if (rows.FirstOrDefault(r => r.Refused > 0) is { } refused)
    {
        throw new InvalidOperationException($"{refused.Policy}: the API's checks refused a call of the tool loop");
    }
}
