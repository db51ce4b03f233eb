using System.Reflection;
using System.Runtime.CompilerServices;
using PublicApiGenerator;

namespace ConversationLedger.PublicApi.Tests;

/// <summary>
/// Every library's public API against a committed snapshot (Snapshots/NAME.txt), so a change to what users can call is
/// deliberate: it shows in review as a change to the snapshot. After a deliberate change, run the tests once with
/// LEDGER_UPDATE_SNAPSHOTS=1 and commit the snapshots.
/// </summary>
public sealed class PublicApiTests
{
    public static TheoryData<string> Libraries() =>
    [
        "ConversationLedger",
        "ConversationLedger.Agents",
        "ConversationLedger.Anthropic",
        "ConversationLedger.Emulator",
        "ConversationLedger.Extensions.AI",
        "ConversationLedger.Extensions.DependencyInjection",
        "ConversationLedger.Postgres",
        "ConversationLedger.Redis",
        "ConversationLedger.Server",
        "ConversationLedger.Sqlite",
    ];

    [Theory]
    [MemberData(nameof(Libraries))]
    public void The_public_API_is_the_one_in_its_snapshot(string library)
    {
        var api = Assembly.Load(library).GeneratePublicApi(new ApiGeneratorOptions { IncludeAssemblyAttributes = false })
            .ReplaceLineEndings("\n");
        var path = Path.Combine(SnapshotFolder(), library + ".txt");

        if (Environment.GetEnvironmentVariable("LEDGER_UPDATE_SNAPSHOTS") == "1")
        {
            File.WriteAllText(path, api);
        }

        Assert.True(File.Exists(path), $"no snapshot of {library}'s public API: run the tests once with LEDGER_UPDATE_SNAPSHOTS=1 and commit {path}");
        var expected = File.ReadAllText(path).ReplaceLineEndings("\n");
        Assert.True(expected == api,
            $"the public API of {library} changed; if that is deliberate, run the tests with LEDGER_UPDATE_SNAPSHOTS=1 and commit {path}.\n{FirstDifference(expected, api)}");
    }

    private static string FirstDifference(string expected, string actual)
    {
        var a = expected.Split('\n');
        var b = actual.Split('\n');
        for (var i = 0; i < Math.Max(a.Length, b.Length); i++)
        {
            var x = i < a.Length ? a[i] : "(end)";
            var y = i < b.Length ? b[i] : "(end)";
            if (x != y)
            {
                return $"line {i + 1}:\n  snapshot: {x}\n  now:      {y}";
            }
        }
        return "";
    }

    private static string SnapshotFolder([CallerFilePath] string source = "") => Path.Combine(Path.GetDirectoryName(source)!, "Snapshots");
}
