using ConversationLedger;
using ConversationLedger.Stores.CrashChild;

// A child process for the cross-process tests. Two modes:
// - crash: appends whole turns to one thread and prints "ack <sequence>" after each append returned, so the parent
//   knows exactly which turns were acknowledged before it kills this process.
//   Usage: CrashChild sqlite|postgres|redis <path or connection string> <tenant> <scope> <thread> [turns, 0 = until killed]
// - writers: many concurrent writers sending turns through the library (see Writers).
//   Usage: CrashChild writers sqlite|postgres|redis <connection> <tenant> <scope> <threads> <writers> <seconds> <name>
if (args.Length > 0 && args[0] == "writers")
{
    return args.Length == 9 ? await Writers.RunAsync(args[1..]) : Usage();
}
if (args.Length < 5)
{
    return Usage();
}
var store = ChildStores.Open(args[0], args[1]);
var key = new ThreadKey(args[2], args[3], args[4]);
var turns = args.Length > 5 ? int.Parse(args[5], System.Globalization.CultureInfo.InvariantCulture) : 0;
var head = await store.GetHeadAsync(key);
for (var turn = 1; turns == 0 || turn <= turns; turn++)
{
    var n = head.RunningMessages / 2 + 1;
    var result = await store.AppendAsync(key, head.LastSequence,
    [
        new MessageEntry(Message.User($"question {n}")) { TurnId = $"turn-{n}", Tokens = 5 },
        new MessageEntry(Message.Assistant($"answer {n}")) { TurnId = $"turn-{n}", Tokens = 7 },
    ]);
    head = result.Head;
    Console.Out.WriteLine($"ack {head.LastSequence}");
    Console.Out.Flush();
}
return 0;

static int Usage()
{
    Console.Error.WriteLine("usage: CrashChild sqlite|postgres|redis <connection> <tenant> <scope> <thread> [turns]");
    Console.Error.WriteLine("       CrashChild writers sqlite|postgres|redis <connection> <tenant> <scope> <threads> <writers> <seconds> <name>");
    return 2;
}
