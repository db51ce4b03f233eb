using System.Diagnostics;
using ConversationLedger.Postgres;
using ConversationLedger.Sqlite;

namespace ConversationLedger.Stores.Tests;

/// <summary>
/// Durability across processes: a writer killed with SIGKILL loses no acknowledged turn and leaves a valid thread,
/// and a conversation written by one process is continued by another. The writer is the CrashChild program.
/// </summary>
public abstract class CrashContract
{
    protected string Tenant { get; } = "crash-" + Guid.NewGuid().ToString("N");

    /// <summary>The store kind and connection the child uses, and a store over the same data for checking.</summary>
    protected abstract Task<(string Kind, string Connection, IConversationStore Store)> TargetAsync();

    private ThreadKey ThreadKey => new(Tenant, "scope", "thread");

    [SkippableFact]
    public async Task A_killed_writer_loses_no_acknowledged_turn_and_leaves_a_valid_thread()
    {
        var (kind, connection, store) = await TargetAsync();
        var acks = new List<long>();
        using (var child = StartChild(kind, connection, turns: 0))
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (acks.Count < 25 && DateTime.UtcNow < deadline && await child.StandardOutput.ReadLineAsync() is { } line)
            {
                acks.Add(Ack(line));
            }
            // SIGKILL mid-loop: the child gets no chance to flush or roll back anything.
            child.Kill(entireProcessTree: true);
            // Turns acknowledged between our last read and the kill are still in the pipe.
            while (await child.StandardOutput.ReadLineAsync() is { } line)
            {
                if (line.StartsWith("ack ", StringComparison.Ordinal))
                {
                    acks.Add(Ack(line));
                }
            }
            await child.WaitForExitAsync();
        }

        var entries = await ReadAllAsync(store);
        var messages = entries.OfType<MessageEntry>().Select(m => m.Message).ToArray();

        Assert.True(acks.Count >= 25, $"the child acknowledged only {acks.Count} turns");
        Assert.True(entries.Count >= acks[^1], $"acknowledged up to entry {acks[^1]} but only {entries.Count} are stored");
        Assert.Equal(Enumerable.Range(1, entries.Count).Select(i => (long)i), entries.Select(e => e.Sequence));
        Assert.Empty(ConversationValidator.Validate(messages, ValidationOptions.StrictHistory));
        for (var i = 0; i < messages.Length; i += 2)
        {
            Assert.Equal($"question {i / 2 + 1}", messages[i].Text);
            Assert.Equal($"answer {i / 2 + 1}", messages[i + 1].Text);
        }
        Assert.Equal(entries.Count, (await store.GetHeadAsync(ThreadKey)).LastSequence);
    }

    [SkippableFact]
    public async Task A_conversation_written_by_one_process_is_continued_by_another()
    {
        var (kind, connection, store) = await TargetAsync();

        await RunChildAsync(kind, connection, turns: 5);
        var head = await store.GetHeadAsync(ThreadKey);
        for (var n = 6; n <= 8; n++)
        {
            head = (await store.AppendAsync(ThreadKey, head.LastSequence,
            [
                new MessageEntry(Message.User($"question {n}")),
                new MessageEntry(Message.Assistant($"answer {n}")),
            ])).Head;
        }
        await RunChildAsync(kind, connection, turns: 2);

        var view = ConversationView.Project(await store.ReadWindowAsync(ThreadKey, WindowSpec.All));
        Assert.Equal(20, view.Head.LastSequence);
        Assert.Equal(Enumerable.Range(1, 10).SelectMany(n => new[] { $"question {n}", $"answer {n}" }),
            view.Messages.Select(m => m.Message.Text));
        ConversationValidator.ThrowIfInvalid(view.AsMessages(), ValidationOptions.StrictHistory);
    }

    private async Task RunChildAsync(string kind, string connection, int turns)
    {
        using var child = StartChild(kind, connection, turns);
        var output = await child.StandardOutput.ReadToEndAsync();
        var errors = await child.StandardError.ReadToEndAsync();
        await child.WaitForExitAsync();
        Assert.True(child.ExitCode == 0, $"child exited with {child.ExitCode}: {errors}");
        Assert.Equal(turns, output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    private Process StartChild(string kind, string connection, int turns) =>
        ChildProcess.Start(kind, connection, Tenant, "scope", "thread", turns.ToString(System.Globalization.CultureInfo.InvariantCulture));

    private static long Ack(string line) =>
        line.StartsWith("ack ", StringComparison.Ordinal) ? long.Parse(line.AsSpan(4), System.Globalization.CultureInfo.InvariantCulture)
            : throw new InvalidOperationException($"unexpected child output: {line}");

    private Task<List<LedgerEntry>> ReadAllAsync(IConversationStore store) => ChildProcess.ReadAllAsync(store, ThreadKey);
}

public sealed class SqliteCrashTests : CrashContract, IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("ledger-crash-").FullName;

    protected override Task<(string Kind, string Connection, IConversationStore Store)> TargetAsync()
    {
        var path = Path.Combine(_directory, "ledger.db");
        return Task.FromResult<(string, string, IConversationStore)>(("sqlite", path, new SqliteConversationStore(path)));
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}

public sealed class PostgresCrashTests : CrashContract, IAsyncLifetime
{
    protected override async Task<(string Kind, string Connection, IConversationStore Store)> TargetAsync() =>
        ("postgres", Servers.Postgres, new PostgresConversationStore(await Servers.PostgresAsync()));

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        try
        {
            await new PostgresConversationStore(await Servers.PostgresAsync()).DeleteTenantAsync(Tenant);
        }
        catch (Exception ex) when (ex is SkipException or InvalidOperationException)
        {
            // Cleanup is best effort: the test itself already reported the unreachable server.
        }
    }
}
