using ConversationLedger.Cli.Tests.Support;
using Xunit.Abstractions;

namespace ConversationLedger.Cli.Tests;

/// <summary>
/// Hostile import files through the real <c>ledger import</c> process (the library-level fuzz in the stores tests tries
/// thousands; this sample checks what a user sees): every file the ledger refuses ends with exit 1 and one clear line,
/// never exit 70, and nothing of it is stored.
/// </summary>
public sealed class HostileImportTests(ITestOutputHelper output)
{
    private static readonly int Cases = HostileJson.LongTests ? 300 : 10;

    private const string Export = """
        {"thread":{"tenant":"local","scope":"default","id":"source"},"system":"be brief","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"w","input":{"city":"Paris"}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"sunny"}]},{"role":"assistant","content":"warm"}]}
        """;

    [Fact]
    public async Task A_hostile_import_exits_1_with_one_line_or_imports_a_valid_thread()
    {
        using var ledger = new LedgerProcess();
        Directory.CreateDirectory(ledger.Root);
        var random = new Random(HostileJson.Seed);
        var outcomes = new Dictionary<string, int>();
        var imported = new List<string>();
        for (var i = 0; i < Cases; i++)
        {
            var (kind, bytes) = HostileJson.Damage(random, Export);
            var file = Path.Combine(ledger.Root, $"case-{i}.json");
            await File.WriteAllBytesAsync(file, bytes);
            var id = $"case-{i}";
            var description = $"case {i} (seed {HostileJson.Seed}, {kind})";

            var result = await ledger.RunAsync("", "import", file, "--as", id);

            Assert.True(result.ExitCode is 0 or 1, $"{description}: exit {result.ExitCode}\n{result}");
            if (result.ExitCode == 1)
            {
                Assert.True(result.Errors.Trim().Split('\n').Length == 1, $"{description}: more than one line\n{result}");
                Assert.DoesNotContain("unexpected", result.Errors, StringComparison.OrdinalIgnoreCase);
            }
            else
            {
                var shown = await ledger.RunAsync("", "show", id);
                Assert.True(shown.ExitCode == 0 && shown.Output.Contains("valid", StringComparison.Ordinal), $"{description}: imported, but does not read back valid\n{shown}");
                imported.Add(id);
            }
            outcomes[$"{kind} → exit {result.ExitCode}"] = outcomes.GetValueOrDefault($"{kind} → exit {result.ExitCode}") + 1;
        }
        // Nothing of a refused import is stored: the threads are exactly the imported ones.
        var threads = await ledger.RunAsync("", "threads", "--json");
        using var listed = System.Text.Json.JsonDocument.Parse(threads.Output);
        Assert.Equal(imported.Order(StringComparer.Ordinal), listed.RootElement.GetProperty("threads").EnumerateArray().Select(t => t.GetProperty("id").GetString()!).Order(StringComparer.Ordinal));
        output.WriteLine($"{Cases} hostile imports through ledger import (seed {HostileJson.Seed}): "
            + string.Join(", ", outcomes.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key} ×{p.Value}")));
    }
}
