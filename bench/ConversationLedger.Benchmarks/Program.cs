using BenchmarkDotNet.Running;
using ConversationLedger.Benchmarks;

// `scenario tokens [--turns N]` runs the whole-conversation token economy; anything else goes to BenchmarkDotNet.
if (args.Length > 0 && args[0] == "scenario")
{
    var turns = args.SkipWhile(a => a != "--turns").Skip(1).Select(int.Parse).FirstOrDefault(200);
    Console.WriteLine($"token economy: {turns} turns per policy");
    var rows = await TokenEconomyScenario.RunAsync(turns, Console.Out);
    Console.WriteLine();
    Console.Write(TokenEconomyScenario.Table(rows));
    return 0;
}

BenchmarkSwitcher.FromAssembly(typeof(TokenEconomyScenario).Assembly).Run(args);
return 0;
