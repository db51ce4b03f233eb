using System.Diagnostics;
using System.Globalization;
using ConversationLedger.Postgres;
using ConversationLedger.Redis;
using ConversationLedger.Sqlite;
using Xunit.Abstractions;

namespace ConversationLedger.Stores.Tests;

/// <summary>
/// Four OS processes × 25 writers through the library (the CrashChild program's writers mode), all on one thread or spread
/// over a hundred, with <see cref="ConflictHandling.Throw"/>: every acknowledged turn is stored exactly once, at the sequence
/// it was acknowledged with and in its writer's order, nothing unacknowledged is stored, every history validates, and with
/// the turn lease each model call ends in a stored turn. In CI the writers send for 2 s on one thread (the contended case);
/// LEDGER_LONG_TESTS=1 runs both cases for 60 s each (docs/reliability.md).
/// </summary>
public sealed class MultiProcessWriterTests(ITestOutputHelper output) : IDisposable
{
    private const int Processes = 4;
    private const int WritersPerProcess = 25;
    private static readonly bool LongTests = Environment.GetEnvironmentVariable("LEDGER_LONG_TESTS") == "1";
    private static readonly int Seconds = LongTests ? 60 : 2;

    private readonly string _directory = Directory.CreateTempSubdirectory("ledger-processes-").FullName;
    private readonly string _tenant = "processes-" + Guid.NewGuid().ToString("N");
    private IConversationStore? _store;

    public static TheoryData<string, int> Cases => new()
    {
        { "sqlite", 1 }, { "sqlite", 100 }, { "postgres", 1 }, { "postgres", 100 }, { "redis", 1 }, { "redis", 100 },
    };

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public async Task Writers_in_four_processes_store_every_acknowledged_turn_once_in_order_for_one_model_call_each(string kind, int threads)
    {
        Skip.IfNot(threads == 1 || LongTests, "set LEDGER_LONG_TESTS=1 to spread the writers over a hundred threads");
        // Given four processes of 25 writers each, ready on one store
        var (connection, store) = await TargetAsync(kind);
        var clock = Stopwatch.StartNew();
        var children = Enumerable.Range(0, Processes).Select(p => ChildProcess.Start("writers", kind, connection, _tenant, "scope",
            threads.ToString(CultureInfo.InvariantCulture), WritersPerProcess.ToString(CultureInfo.InvariantCulture),
            Seconds.ToString(CultureInfo.InvariantCulture), $"p{p}")).ToArray();
        try
        {
            foreach (var child in children)
            {
                Assert.Equal("ready", await child.StandardOutput.ReadLineAsync());
            }

            // When they all start at once and run to the end
            foreach (var child in children)
            {
                await child.StandardInput.WriteLineAsync("go");
                await child.StandardInput.FlushAsync();
            }
            var reports = await Task.WhenAll(children.Select(ReportAsync));
            var elapsed = clock.Elapsed;

            // Then what was acknowledged is exactly what is stored, each turn once, at its sequence, in its writer's order
            Assert.Empty(reports.SelectMany(r => r.Errors));
            var acks = reports.SelectMany(r => r.Acks).ToList();
            Assert.NotEmpty(acks);
            var storedTurns = 0;
            for (var t = 0; t < threads; t++)
            {
                var key = new ThreadKey(_tenant, "scope", $"t{t}");
                var entries = await ChildProcess.ReadAllAsync(store, key);
                Assert.Equal(Enumerable.Range(1, entries.Count).Select(i => (long)i), entries.Select(e => e.Sequence));
                var messages = entries.OfType<MessageEntry>().ToList();
                Assert.Empty(ConversationValidator.Validate(messages.Select(m => m.Message).ToList(), ValidationOptions.StrictHistory));
                var questions = messages.Where(m => m.Message.Role == Role.User).ToList();
                var acked = acks.Where(a => a.Thread == t).OrderBy(a => a.Sequence).ToList();
                Assert.Equal(acked.Select(a => (a.Sequence, a.Text)), questions.Select(q => (q.Sequence, q.Message.Text)));
                storedTurns += questions.Count;
            }
            foreach (var writer in acks.GroupBy(a => a.Text[..a.Text.LastIndexOf(' ')]))
            {
                // A writer sends its turns one after another, so on any one thread they are stored in that order.
                foreach (var onThread in writer.GroupBy(a => a.Thread))
                {
                    var bySequence = onThread.OrderBy(a => a.Sequence).Select(a => a.Turn).ToList();
                    Assert.Equal(bySequence.Order(), bySequence);
                }
            }
            var calls = reports.Sum(r => r.Calls);
            output.WriteLine($"{kind}, {threads} thread(s): {Processes} processes × {WritersPerProcess} writers for {Seconds} s, "
                + $"{storedTurns} stored, {calls} model calls ({(double)calls / storedTurns:F2} per stored turn), "
                + $"{reports.Sum(r => r.Refused)} refused before the call, {elapsed.TotalSeconds:F1} s");
            Assert.Equal(acks.Count, storedTurns);
            Assert.Equal(storedTurns, calls);
        }
        finally
        {
            foreach (var child in children)
            {
                if (!child.HasExited)
                {
                    child.Kill(entireProcessTree: true);
                }
                child.Dispose();
            }
        }
    }

    public void Dispose()
    {
        _store?.DeleteTenantAsync(_tenant).GetAwaiter().GetResult();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    private async Task<(string Connection, IConversationStore Store)> TargetAsync(string kind)
    {
        (string, IConversationStore) target = kind switch
        {
            "sqlite" => (Path.Combine(_directory, "ledger.db"), new SqliteConversationStore(Path.Combine(_directory, "ledger.db"))),
            "postgres" => (Servers.Postgres, new PostgresConversationStore(await Servers.PostgresAsync())),
            _ => (Servers.Redis, new RedisConversationStore(await Servers.RedisAsync())),
        };
        _store = target.Item2;
        return target;
    }

    private static async Task<Report> ReportAsync(Process child)
    {
        var report = new Report();
        var errors = child.StandardError.ReadToEndAsync();
        // Bounded: a child that hangs fails the test instead of the run.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(Seconds + 120));
        while (await child.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            var parts = line.Split(' ', 4);
            switch (parts[0])
            {
                case "ack":
                    report.Acks.Add(new Ack(int.Parse(parts[1], CultureInfo.InvariantCulture), long.Parse(parts[2], CultureInfo.InvariantCulture), parts[3]));
                    break;
                case "calls":
                    report.Calls = int.Parse(parts[1], CultureInfo.InvariantCulture);
                    break;
                case "refused":
                    report.Refused = int.Parse(parts[1], CultureInfo.InvariantCulture);
                    break;
                default:
                    report.Errors.Add(line);
                    break;
            }
        }
        await child.WaitForExitAsync(timeout.Token);
        Assert.True(child.ExitCode == 0, $"a writer process exited with {child.ExitCode}: {await errors}");
        return report;
    }

    private sealed record Ack(int Thread, long Sequence, string Text)
    {
        // "p0 w3 n2": the writer's turn number.
        public int Turn => int.Parse(Text[(Text.LastIndexOf('n') + 1)..], CultureInfo.InvariantCulture);
    }

    private sealed class Report
    {
        public List<Ack> Acks { get; } = [];
        public List<string> Errors { get; } = [];
        public int Calls { get; set; }
        public int Refused { get; set; }
    }
}
