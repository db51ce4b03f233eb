using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace ConversationLedger.Benchmarks;

/// <summary>
/// One instance of the conversation service, run as its own process from the built <c>ConversationLedger.Server.dll</c>
/// (<c>dotnet ConversationLedger.Server.dll --urls … --Server:Store=…</c>), its console log written to a file as a process
/// manager would collect it. Stopped (killed, by its own id) when disposed.
/// </summary>
internal sealed class ServiceProcess : IAsyncDisposable
{
    private readonly Process _process;

    private ServiceProcess(Process process, string url, string log)
    {
        _process = process;
        Url = url;
        Log = log;
    }

    public string Url { get; }

    public string Log { get; }

    public int Id => _process.Id;

    /// <summary>A server assembly to run instead of the one built beside the bench (e.g. a ReadyToRun publish), or null.</summary>
    public static string? Override { get; set; }

    /// <summary>The server assembly this bench was built with (the project reference copies it, with its runtime config, beside the bench).</summary>
    public static string ServerDll()
    {
        var dll = Override ?? Path.Combine(AppContext.BaseDirectory, "ConversationLedger.Server.dll");
        return File.Exists(dll) && File.Exists(Path.ChangeExtension(dll, ".runtimeconfig.json"))
            ? dll
            : throw new FileNotFoundException("ConversationLedger.Server.dll is not beside the bench; build the bench project first", dll);
    }

    /// <summary>
    /// Starts an instance on a free loopback port with these settings (<c>Section:Key</c> → value) and waits until /health answers.
    /// Its log is <c>service.log</c> in <paramref name="folder"/>; it runs in an empty folder beside it, because the host watches its
    /// content root (the working directory) for configuration changes, and a log or database there would wake the watcher on every write.
    /// </summary>
    public static async Task<ServiceProcess> StartAsync(IReadOnlyDictionary<string, string> settings, string folder, CancellationToken cancellationToken = default)
    {
        var url = $"http://127.0.0.1:{FreePort()}";
        var root = Directory.CreateDirectory(Path.Combine(folder, "root")).FullName;
        var logFile = Path.Combine(folder, "service.log");
        var start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, WorkingDirectory = root };
        // exec: the shell becomes dotnet (same process id), with stdout and stderr in the log file.
        foreach (var arg in (string[])["-c", "exec \"$@\" >>\"$LEDGER_BENCH_LOG\" 2>&1", "sh",
            Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet", ServerDll(), "--urls", url])
        {
            start.ArgumentList.Add(arg);
        }
        foreach (var (key, value) in settings)
        {
            start.ArgumentList.Add($"--{key}={value}");
        }
        start.Environment["LEDGER_BENCH_LOG"] = logFile;
        start.Environment.Remove("ANTHROPIC_API_KEY");
        var process = Process.Start(start) ?? throw new InvalidOperationException("the service process did not start");
        var service = new ServiceProcess(process, url, logFile);
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
            var deadline = Stopwatch.GetTimestamp() + 60 * Stopwatch.Frequency;
            while (true)
            {
                if (process.HasExited)
                {
                    throw new InvalidOperationException($"the service exited with {process.ExitCode} before answering /health:\n{service.LogTail()}");
                }
                try
                {
                    using var response = await http.GetAsync(new Uri(url + "/health"), cancellationToken);
                    if (response.IsSuccessStatusCode)
                    {
                        return service;
                    }
                }
                catch (HttpRequestException)
                {
                }
                catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                }
                if (Stopwatch.GetTimestamp() > deadline)
                {
                    throw new TimeoutException($"the service did not answer /health within 60 s:\n{service.LogTail()}");
                }
                await Task.Delay(100, cancellationToken);
            }
        }
        catch
        {
            await service.DisposeAsync();
            throw;
        }
    }

    /// <summary>CPU time the process has used so far.</summary>
    public TimeSpan CpuTime()
    {
        _process.Refresh();
        return _process.HasExited ? TimeSpan.Zero : _process.TotalProcessorTime;
    }

    /// <summary>The process's resident set now and at its peak, in MB (from /proc).</summary>
    public (double Now, double Peak) ResidentMb() => ProcCounters.ResidentMb(_process.Id);

    /// <summary>How many lines its log has.</summary>
    public long LogLines()
    {
        try
        {
            using var stream = new FileStream(Log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            var buffer = new byte[64 * 1024];
            long lines = 0;
            int read;
            while ((read = stream.Read(buffer)) > 0)
            {
                lines += buffer.AsSpan(0, read).Count((byte)'\n');
            }
            return lines;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    /// <summary>Copies its log to <paramref name="path"/> and returns the first errors it logged (each with the lines that follow it).</summary>
    public string KeepLog(string path, int errors = 3)
    {
        try
        {
            File.Copy(Log, path, overwrite: true);
            var lines = File.ReadAllLines(path);
            var excerpt = new List<string>();
            for (var i = 0; i < lines.Length && errors > 0; i++)
            {
                if (lines[i].StartsWith("fail:", StringComparison.Ordinal) || lines[i].StartsWith("crit:", StringComparison.Ordinal))
                {
                    excerpt.AddRange(lines.Skip(i).Take(12));
                    errors--;
                }
            }
            return string.Join('\n', excerpt);
        }
        catch (IOException ex)
        {
            return $"(no log: {ex.Message})";
        }
    }

    /// <summary>The last lines of its log.</summary>
    public string LogTail(int lines = 30)
    {
        try
        {
            using var stream = new FileStream(Log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            var all = reader.ReadToEnd().Split('\n');
            return string.Join('\n', all.TakeLast(lines));
        }
        catch (IOException ex)
        {
            return $"(no log: {ex.Message})";
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
            }
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException)
        {
        }
        _process.Dispose();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>CPU and memory counters read from /proc (Linux): whole machine, PostgreSQL's processes, one process's memory.</summary>
internal static class ProcCounters
{
    // USER_HZ: the unit of /proc's CPU times; 100 on every mainstream Linux build.
    private const double TicksPerSecond = 100;

    /// <summary>Busy and total CPU seconds of the whole machine since boot (all cores; idle and iowait are not busy).</summary>
    public static (double Busy, double Total) Machine()
    {
        try
        {
            var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(8)
                .Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
            var total = fields.Sum();
            return ((total - fields[3] - fields[4]) / TicksPerSecond, total / TicksPerSecond);
        }
        catch (IOException)
        {
            return (0, 0);
        }
    }

    /// <summary>
    /// CPU seconds used so far by each running PostgreSQL process that works for <paramref name="database"/>: its backends, and the
    /// server's shared processes (postmaster, WAL writer, checkpointer …); backends of other databases (other users) are left out.
    /// </summary>
    public static Dictionary<int, double> PostgresProcesses(string database)
    {
        var seconds = new Dictionary<int, double>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var id))
            {
                continue;
            }
            try
            {
                if (File.ReadAllText(Path.Combine(directory, "comm")).Trim() != "postgres")
                {
                    continue;
                }
                // A client backend's title is "postgres: USER DATABASE HOST(PORT) STATE".
                var title = File.ReadAllText(Path.Combine(directory, "cmdline")).Replace('\0', ' ').Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (title is ["postgres:", _, var db, var host, ..] && host.Contains('(', StringComparison.Ordinal) && db != database)
                {
                    continue;
                }
                var stat = File.ReadAllText(Path.Combine(directory, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                // After the name: state is field 3, utime and stime are fields 14 and 15.
                seconds[id] = (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / TicksPerSecond;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
            {
                // exited meanwhile, or not ours to read
            }
        }
        return seconds;
    }

    /// <summary>A process's resident set now (VmRSS) and at its peak (VmHWM), in MB.</summary>
    public static (double Now, double Peak) ResidentMb(int processId)
    {
        try
        {
            double Field(string[] lines, string name) =>
                lines.FirstOrDefault(l => l.StartsWith(name, StringComparison.Ordinal)) is { } line
                    ? long.Parse(line[name.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024.0
                    : 0;
            var status = File.ReadAllLines($"/proc/{processId}/status");
            return (Field(status, "VmRSS:"), Field(status, "VmHWM:"));
        }
        catch (IOException)
        {
            return (0, 0);
        }
    }
}
