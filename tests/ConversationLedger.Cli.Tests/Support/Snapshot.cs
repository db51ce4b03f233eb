using System.Runtime.CompilerServices;

namespace ConversationLedger.Cli.Tests.Support;

/// <summary>
/// Compares output with a file committed under <c>Snapshots/</c>. With <see cref="UpdateVariable"/>=1 the files are
/// written instead, so an intended change is one test run and a review of the diff. Trailing spaces (tables pad their
/// rows) and line endings are not compared.
/// </summary>
public static class Snapshot
{
    /// <summary>Set to 1 to rewrite the snapshots from what the tests produce.</summary>
    public const string UpdateVariable = "LEDGER_UPDATE_SNAPSHOTS";

    private static readonly string Folder = Path.Combine(ProjectFolder(), "Snapshots");

    /// <summary>Fails unless <paramref name="actual"/> is what <c>Snapshots/NAME.txt</c> holds.</summary>
    public static void Match(string name, string actual)
    {
        var file = Path.Combine(Folder, name + ".txt");
        var text = Normalize(actual);
        if (Environment.GetEnvironmentVariable(UpdateVariable) == "1")
        {
            Directory.CreateDirectory(Folder);
            File.WriteAllText(file, text);
            return;
        }
        var update = $"if the change is intended, run {UpdateVariable}=1 dotnet test tests/ConversationLedger.Cli.Tests, review the diff of Snapshots/ and commit it";
        if (!File.Exists(file))
        {
            Assert.Fail($"there is no snapshot Snapshots/{name}.txt yet; {update}.\nThe output was:\n{text}");
        }
        var expected = Normalize(File.ReadAllText(file));
        if (expected == text)
        {
            return;
        }
        var expectedLines = expected.Split('\n');
        var actualLines = text.Split('\n');
        var line = Enumerable.Range(0, Math.Max(expectedLines.Length, actualLines.Length))
            .First(i => i >= expectedLines.Length || i >= actualLines.Length || expectedLines[i] != actualLines[i]);
        Assert.Fail($"the output differs from Snapshots/{name}.txt at line {line + 1}; {update}.\n"
            + $"expected: {(line < expectedLines.Length ? expectedLines[line] : "(end of file)")}\n"
            + $"actual:   {(line < actualLines.Length ? actualLines[line] : "(end of output)")}\n"
            + $"The whole output was:\n{text}");
    }

    private static string Normalize(string text) =>
        string.Join('\n', text.ReplaceLineEndings("\n").Split('\n').Select(l => l.TrimEnd())).TrimEnd() + "\n";

    // The test project's folder: where this file's folder (Support/) is.
    private static string ProjectFolder([CallerFilePath] string here = "") => Path.GetDirectoryName(Path.GetDirectoryName(here))!;
}
