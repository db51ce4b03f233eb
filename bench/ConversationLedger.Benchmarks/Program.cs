using BenchmarkDotNet.Running;
using ConversationLedger.Benchmarks;

// `scenario tokens [--turns N]`: the whole-conversation token economy.
// `scenario overhead [--lengths 10,1000,…] [--turns N] [--postgres CONN]`: per-turn cost against thread length.
// Anything else goes to BenchmarkDotNet.
string? Option(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
if (args.Length > 1 && args[0] == "scenario" && args[1] == "overhead")
{
    var lengths = (Option("--lengths") ?? "10,1000,10000,100000").Split(',').Select(long.Parse).ToArray();
    var turns = int.Parse(Option("--turns") ?? "200", System.Globalization.CultureInfo.InvariantCulture);
    var postgres = Option("--postgres") ?? Environment.GetEnvironmentVariable("LEDGER_BENCH_POSTGRES");
    Console.WriteLine($"per-turn overhead: {turns} turns at {string.Join(", ", lengths)} messages{(postgres is null ? " (no --postgres: PostgreSQL skipped)" : "")}");
    var rows = await PerTurnOverhead.RunAsync(lengths, turns, postgres, Console.Out);
    Console.WriteLine();
    Console.Write(PerTurnOverhead.Table(rows));
    return 0;
}
if (args.Length > 0 && args[0] == "scenario")
{
    var turns = int.Parse(Option("--turns") ?? "200", System.Globalization.CultureInfo.InvariantCulture);
    Console.WriteLine($"token economy: {turns} turns per policy");
    var rows = await TokenEconomyScenario.RunAsync(turns, Console.Out);
    Console.WriteLine();
    Console.Write(TokenEconomyScenario.Table(rows));
    return 0;
}

BenchmarkSwitcher.FromAssembly(typeof(TokenEconomyScenario).Assembly).Run(args);
return 0;
