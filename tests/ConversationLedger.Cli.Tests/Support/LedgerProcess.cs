using System.Diagnostics;

namespace ConversationLedger.Cli.Tests.Support;

/// <summary>
/// Runs the real <c>ledger</c> executable (<c>dotnet ledger.dll</c>, built beside the tests) with piped standard
/// input, in a temporary data directory with a SQLite store, and never with an API key: replies come from the
/// emulator the CLI starts in its own process.
/// </summary>
public sealed class LedgerProcess : IDisposable
{
    private static readonly string LedgerDll = Path.Combine(AppContext.BaseDirectory, "ledger.dll");

    public LedgerProcess()
    {
        Directory.CreateDirectory(Root);
    }

    /// <summary>A directory of this test's own.</summary>
    public string Root { get; } = Path.Combine(Path.GetTempPath(), "ledger-cli-" + Guid.NewGuid().ToString("N")[..12]);

    /// <summary>The SQLite file of this test.</summary>
    public string Database => Path.Combine(Root, "ledger.db");

    /// <summary>Extra environment variables for the child.</summary>
    public Dictionary<string, string> Environment { get; } = [];

    /// <summary>
    /// Whether the child runs as an unprivileged user when the tests run as root (through <c>setpriv</c>, as nobody), so
    /// file permissions bind it as they bind a user. <value>The default value is false.</value>
    /// </summary>
    public bool Unprivileged { get; set; }

    /// <summary>
    /// Whether <see cref="Unprivileged"/> children really drop root: the tests run as root, setpriv exists, and another
    /// user can reach the build output (a checkout in a private directory cannot be run as nobody).
    /// </summary>
    public static bool CanDropRoot { get; } = System.Environment.UserName == "root" && !OperatingSystem.IsWindows() && File.Exists("/usr/bin/setpriv") && OthersCanRun(LedgerDll);

    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    private static bool OthersCanRun(string file)
    {
        if (!File.GetUnixFileMode(file).HasFlag(UnixFileMode.OtherRead))
        {
            return false;
        }
        for (var folder = Path.GetDirectoryName(file); !string.IsNullOrEmpty(folder); folder = Path.GetDirectoryName(folder))
        {
            if (!File.GetUnixFileMode(folder).HasFlag(UnixFileMode.OtherExecute))
            {
                return false;
            }
        }
        return true;
    }

    public Task<Result> RunAsync(string stdin, params string[] args) => RunAsync(stdin, _ => Task.CompletedTask, args);

    /// <summary>Runs a command; <paramref name="whileRunning"/> gets the child's process id once it has started.</summary>
    public async Task<Result> RunAsync(string stdin, Func<int, Task> whileRunning, params string[] args)
    {
        var dropRoot = Unprivileged && CanDropRoot;
        var start = new ProcessStartInfo(dropRoot ? "/usr/bin/setpriv" : "dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Root,
        };
        if (dropRoot)
        {
            foreach (var arg in new[] { "--reuid=65534", "--regid=65534", "--clear-groups", "dotnet" })
            {
                start.ArgumentList.Add(arg);
            }
        }
        start.ArgumentList.Add(LedgerDll);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        // Tests must never reach the real API.
        foreach (var name in new[] { "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "ANTHROPIC_AUTH_TOKEN", "LEDGER_MODEL", "LEDGER_POLICY", "LEDGER_EMULATOR_FAULT" })
        {
            start.Environment.Remove(name);
        }
        start.Environment["LEDGER_STORE"] = "sqlite:" + Database;
        start.Environment["XDG_DATA_HOME"] = Root;
        start.Environment["HOME"] = Root;
        start.Environment["NO_COLOR"] = "1";
        foreach (var (name, value) in Environment)
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardInput.WriteAsync(stdin);
        process.StandardInput.Close();
        await whileRunning(process.Id);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"ledger {string.Join(' ', args)} did not finish; output so far: {await stdout}{await stderr}");
        }
        return new Result(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Sends SIGINT to a process, as Ctrl+C on a terminal does.</summary>
    public static async Task InterruptAsync(int processId)
    {
        using var kill = Process.Start("kill", ["-INT", processId.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp directory is harmless.
        }
    }

    public sealed record Result(int ExitCode, string Output, string Errors)
    {
        public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Output}\n--- stderr\n{Errors}";
    }
}
