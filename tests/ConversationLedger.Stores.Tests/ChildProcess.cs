using System.Diagnostics;

namespace ConversationLedger.Stores.Tests;

/// <summary>Starts the CrashChild program (tests/ConversationLedger.Stores.CrashChild) as a separate process.</summary>
internal static class ChildProcess
{
    public static Process Start(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(ChildPath());
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        return Process.Start(info) ?? throw new InvalidOperationException("could not start the child process");
    }

    /// <summary>Every entry of a thread, in order, read page by page.</summary>
    public static async Task<List<LedgerEntry>> ReadAllAsync(IConversationStore store, ThreadKey key)
    {
        var entries = new List<LedgerEntry>();
        while (true)
        {
            var page = await store.ReadEntriesAsync(key, entries.Count, 500);
            if (page.Count == 0)
            {
                return entries;
            }
            entries.AddRange(page);
        }
    }

    private static string ChildPath()
    {
        // Built next to this project (a build-order-only reference): same configuration and framework folders.
        var path = AppContext.BaseDirectory.Replace("/ConversationLedger.Stores.Tests/bin/", "/ConversationLedger.Stores.CrashChild/bin/", StringComparison.Ordinal);
        path = Path.Combine(path, "ConversationLedger.Stores.CrashChild.dll");
        return File.Exists(path) ? path : throw new FileNotFoundException("build tests/ConversationLedger.Stores.CrashChild first", path);
    }
}
