using ConversationLedger;
using ConversationLedger.Postgres;
using ConversationLedger.Sqlite;

// A writer for the crash and resume tests: appends whole turns to one thread and prints "ack <sequence>" after
// each append returned, so the parent knows exactly which turns were acknowledged before it kills this process.
// Usage: CrashChild sqlite|postgres <path or connection string> <tenant> <scope> <thread> [turns, 0 = until killed]
if (args.Length < 5)
{
    Console.Error.WriteLine("usage: CrashChild sqlite|postgres <connection> <tenant> <scope> <thread> [turns]");
    return 2;
}
IConversationStore store = args[0] switch
{
    "sqlite" => new SqliteConversationStore(args[1]),
    "postgres" => new PostgresConversationStore(args[1]),
    _ => throw new ArgumentException($"unknown store {args[0]}"),
};
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
