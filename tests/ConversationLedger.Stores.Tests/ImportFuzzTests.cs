using ConversationLedger.Sqlite;
using ConversationLedger.Testing;
using Xunit.Abstractions;

namespace ConversationLedger.Stores.Tests;

/// <summary>
/// Generated hostile import files (<see cref="HostileJson"/> damage to valid exports and API-shaped files) and hostile thread
/// ids, imported into SQLite: each import either stores a valid thread or fails with one of the documented exceptions —
/// <see cref="LedgerFormatException"/>, <see cref="LedgerValidationException"/>, <see cref="ArgumentException"/> (the CLI's exit 1)
/// — and then the store holds nothing of it. Any other exception would be the CLI's exit 70. 400 cases in CI;
/// LEDGER_LONG_TESTS=1 runs 10,000 (LEDGER_FUZZ_SEED sets the seed; docs/reliability.md).
/// </summary>
public sealed class ImportFuzzTests(ITestOutputHelper output) : IDisposable
{
    private static readonly int Cases = HostileJson.LongTests ? 10_000 : 400;

    private readonly string _directory = Directory.CreateTempSubdirectory("ledger-import-fuzz-").FullName;

    [Fact]
    public async Task Hostile_imports_fail_with_a_documented_exception_and_store_nothing()
    {
        var store = new SqliteConversationStore(Path.Combine(_directory, "ledger.db"));
        var sources = new[] { await ExportAsync(store), ApiShaped };
        var random = new Random(HostileJson.Seed);
        var outcomes = new Dictionary<string, int>();
        for (var i = 0; i < Cases; i++)
        {
            var (kind, bytes) = HostileJson.Damage(random, sources[i % sources.Length]);
            // Unique per case, so a refused import is told apart from an earlier one stored under the same id.
            var id = (random.Next(8) == 0 ? HostileJson.Pick(random, HostileJson.HostileStrings) : "case") + $"-{i}";
            var description = $"case {i} (seed {HostileJson.Seed}, {kind}, id \"{id}\")";
            ThreadKey? key = null;
            string outcome;
            try
            {
                key = new ThreadKey("fuzz", "import", id);
                var head = await ThreadTransfer.ImportAsync(store, key, new MemoryStream(bytes));
                // Stored: it must read back as a valid conversation.
                var view = ConversationView.Project(await store.ReadWindowAsync(key, WindowSpec.All));
                Assert.Equal(head.LastSequence, view.Head.LastSequence);
                ConversationValidator.ThrowIfInvalid(view.AsMessages(), ValidationOptions.StrictHistory);
                outcome = "imported";
            }
            catch (Exception ex) when (ex is LedgerFormatException or LedgerValidationException or ArgumentException)
            {
                Assert.True(key is null || !(await store.GetHeadAsync(key)).Exists, $"{description}: refused ({ex.Message}) but something was stored");
                outcome = ex.GetType().Name;
            }
            catch (Exception ex)
            {
                throw new Xunit.Sdk.XunitException($"{description}: {ex.GetType().Name} is not a documented import error (the CLI would exit 70): {ex}");
            }
            outcomes[$"{kind} → {outcome}"] = outcomes.GetValueOrDefault($"{kind} → {outcome}") + 1;
        }
        output.WriteLine($"{Cases} hostile imports (seed {HostileJson.Seed}): " + string.Join(", ", outcomes.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key} ×{p.Value}")));
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    private const string ApiShaped = """
        {"system":[{"type":"text","text":"be brief"}],"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":"s"},{"type":"tool_use","id":"toolu_1","name":"w","input":{"city":"Paris"}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"sunny"}]}]},{"role":"assistant","content":"warm"}]}
        """;

    // A real export: a system prompt, turns with usage, a pin, an edit and a summary, as `ledger export` writes them.
    private static async Task<string> ExportAsync(IConversationStore store)
    {
        var key = new ThreadKey("fuzz", "source", "export");
        await store.AppendAsync(key, 0,
        [
            new SystemPromptEntry("be brief", 1),
            new MessageEntry(Message.User("question 1")) { TurnId = "t1", Tokens = 3 },
            new MessageEntry(Message.Assistant("answer 1")) { TurnId = "t1", Tokens = 3 },
            new UsageEntry(new UsageRecord("claude-sonnet-5-5", new TokenUsage { InputTokens = 10, OutputTokens = 3 }, 0.001m)) { TurnId = "t1" },
            new MessageEntry(Message.User("question 2")) { TurnId = "t2", Tokens = 3 },
            new MessageEntry(Message.Assistant("answer 2")) { TurnId = "t2", Tokens = 3 },
            new PinEntry(2, true),
            new EditEntry(5, Message.User("question 2, edited")),
            new SummaryEntry("they asked twice", 2, 3, "claude-sonnet-5-5", 10, 5),
        ]);
        using var file = new MemoryStream();
        await ThreadTransfer.ExportAsync(store, key, file);
        return System.Text.Encoding.UTF8.GetString(file.ToArray());
    }
}
