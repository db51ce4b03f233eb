using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace ConversationLedger.Stores.Tests;

/// <summary>
/// A database server of the test's own, on a free loopback port with its data under /tmp, that the test may kill with
/// SIGKILL and start again on the same data. Durable as the shared servers of scripts/services.sh (PostgreSQL with fsync
/// and synchronous_commit on; Redis with appendonly yes and appendfsync always), so an acknowledged write must survive the
/// kill. Never the shared servers: those are used by other tests. Disposing kills it and removes its data.
/// </summary>
internal abstract class PrivateServer : IAsyncDisposable
{
    private const int SigKill = 9;
    private const int SigStop = 19;

    protected PrivateServer(string name)
    {
        // Under /tmp, not $TMPDIR: the postgres OS user must be able to reach it.
        Directory = Path.Combine("/tmp", $"ledger-{name}-{Guid.NewGuid():N}");
        System.IO.Directory.CreateDirectory(Directory);
        Port = FreePort();
    }

    /// <summary>Where the server keeps its data, log and socket; removed when disposed.</summary>
    public string Directory { get; }

    public int Port { get; }

    /// <summary>The connection string (or configuration) the store takes.</summary>
    public abstract string Connection { get; }

    /// <summary>Starts the server (the first time: creates its data) and waits until it answers.</summary>
    public abstract Task StartAsync(CancellationToken cancellationToken);

    /// <summary>Kills every process of the server with SIGKILL, at once: no shutdown, no flush.</summary>
    public abstract Task KillAsync();

    public async ValueTask DisposeAsync()
    {
        try
        {
            await KillAsync();
        }
        finally
        {
            // Files written by the postgres OS user are removable by root, and the test runs as root when it used runuser.
            System.IO.Directory.Delete(Directory, recursive: true);
        }
    }

    /// <summary>Whether this process runs as root (`id -u` is 0): initdb then needs another OS user.</summary>
    protected static bool IsRoot => geteuid() == 0;

    /// <summary>Skips the test locally, or fails it when CI=true, when the server's program is not installed.</summary>
    public static void RequireProgram(string path, string what)
    {
        if (File.Exists(path))
        {
            return;
        }
        var problem = $"{what} is not installed ({path} is missing; {Servers.StartCommand} installs it)";
        if (Servers.InCi)
        {
            throw new InvalidOperationException($"{problem}; CI=true, so this is a failure, not a skip");
        }
        Skip.If(true, problem);
    }

    /// <summary>Runs a program to its end (bounded), failing with its output when it does not exit 0.</summary>
    protected static async Task RunAsync(string program, IEnumerable<string> args, CancellationToken cancellationToken)
    {
        // From / so a program run as the postgres user never tries to enter a directory it cannot read.
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = "/" };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {program}");
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var errors = process.StandardError.ReadToEndAsync(cancellationToken);
        try
        {
            await process.WaitForExitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', info.ArgumentList)} exited with {process.ExitCode}: {await output}{await errors}");
        }
    }

    /// <summary>SIGKILL to a process (gone already: nothing to do).</summary>
    protected static void Kill(int pid) => _ = kill(pid, SigKill);

    /// <summary>SIGSTOP: a stopped process forks no new children while we collect the ones it has.</summary>
    protected static void Stop(int pid) => _ = kill(pid, SigStop);

    /// <summary>The processes whose parent is <paramref name="pid"/>, from /proc.</summary>
    protected static List<int> ChildrenOf(int pid)
    {
        var children = new List<int>();
        foreach (var entry in System.IO.Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(entry), CultureInfo.InvariantCulture, out var candidate))
            {
                continue;
            }
            try
            {
                // /proc/PID/stat: "pid (name) state ppid …"; the name may hold spaces, so read after its closing parenthesis.
                var stat = File.ReadAllText(Path.Combine(entry, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (int.Parse(fields[1], CultureInfo.InvariantCulture) == pid)
                {
                    children.Add(candidate);
                }
            }
            catch (IOException)
            {
                // It exited while we looked.
            }
        }
        return children;
    }

    protected static bool IsAlive(int pid) => kill(pid, 0) == 0;

    /// <summary>Waits (bounded) until every process in <paramref name="pids"/> is gone, so its ports and files are free.</summary>
    protected static async Task WaitGoneAsync(IEnumerable<int> pids)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        foreach (var pid in pids)
        {
            // A killed child of ours stays a zombie until reaped: /proc/PID/stat then says Z, which is gone enough.
            while (IsAlive(pid) && !IsZombie(pid))
            {
                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException($"process {pid} did not die within 10 s of SIGKILL");
                }
                await Task.Delay(20);
            }
        }
    }

    protected static bool IsZombie(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[stat.LastIndexOf(')') + 2] == 'Z';
        }
        catch (IOException)
        {
            return true;
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);

    [DllImport("libc")]
    private static extern uint geteuid();
}

/// <summary>A private PostgreSQL 15 (initdb on first start), run as the postgres OS user when the test runs as root.</summary>
internal sealed class PrivatePostgres() : PrivateServer("pg")
{
    public const string Bin = "/usr/lib/postgresql/15/bin";
    private bool _created;

    private string Data => Path.Combine(Directory, "data");

    public override string Connection =>
        // Short timeouts: while the server is down, opening and commands fail within seconds instead of hanging.
        $"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres;Timeout=3;Command Timeout=10;Cancellation Timeout=1000;Maximum Pool Size=40";

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!_created)
        {
            System.IO.Directory.CreateDirectory(Data);
            System.IO.Directory.CreateDirectory(Path.Combine(Directory, "sock"));
            if (IsRoot)
            {
                // initdb refuses root: the postgres OS user owns the data; /tmp's private dir must let it in.
                await RunAsync("chmod", ["755", Directory], cancellationToken);
                await RunAsync("chown", ["-R", "postgres:postgres", Directory], cancellationToken);
            }
            await AsServerUserAsync(Path.Combine(Bin, "initdb"), ["-D", Data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"], cancellationToken);
            _created = true;
        }
        // fsync and synchronous_commit on (the defaults, set anyway so nothing inherited turns them off): an acknowledged
        // commit is on disk before the client hears of it. Crash recovery first syncs the data directory; syncfs does that
        // in one call instead of file by file (0.5 s instead of 2.7 s a restart here), with the same guarantee.
        var log = Path.Combine(Directory, "server.log");
        try
        {
            await AsServerUserAsync(Path.Combine(Bin, "pg_ctl"), ["-D", Data, "-l", log, "-w", "-t", "60",
                "-o", $"-c listen_addresses=127.0.0.1 -p {Port} -k {Path.Combine(Directory, "sock")} -c fsync=on -c synchronous_commit=on -c recovery_init_sync_method=syncfs -c max_connections=100",
                "start"], cancellationToken);
        }
        catch (InvalidOperationException ex) when (File.Exists(log))
        {
            throw new InvalidOperationException($"{ex.Message}\nserver.log ends:\n{string.Join('\n', File.ReadLines(log).TakeLast(15))}", ex);
        }
    }

    public override async Task KillAsync()
    {
        if (PostmasterPid() is not { } postmaster || !IsAlive(postmaster))
        {
            return;
        }
        // Freeze the postmaster, then kill it and all its children: a crash of the whole server, as a power cut would leave it.
        Stop(postmaster);
        var processes = ChildrenOf(postmaster).Prepend(postmaster).ToList();
        foreach (var pid in processes)
        {
            Kill(pid);
        }
        await WaitGoneAsync(processes);
        if (IsAlive(postmaster))
        {
            // Dead but not yet reaped (its parent is not ours to wait on): its PID still answers, so the restarted postmaster
            // would take the lock files for a live one's. After a real crash no process keeps that PID; say so by removing them.
            File.Delete(Path.Combine(Data, "postmaster.pid"));
            File.Delete(Path.Combine(Directory, "sock", $".s.PGSQL.{Port}.lock"));
        }
    }

    private int? PostmasterPid()
    {
        var file = Path.Combine(Data, "postmaster.pid");
        try
        {
            return int.Parse(File.ReadLines(file).First(), CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or FormatException)
        {
            return null;
        }
    }

    private static Task AsServerUserAsync(string program, string[] args, CancellationToken cancellationToken) =>
        IsRoot ? RunAsync("runuser", ["-u", "postgres", "--", program, .. args], cancellationToken) : RunAsync(program, args, cancellationToken);
}

/// <summary>A private redis-server, a child of the test process.</summary>
internal sealed class PrivateRedis() : PrivateServer("redis")
{
    public const string Program = "/usr/bin/redis-server";
    private Process? _server;

    // AbortOnConnectFail off: the multiplexer keeps reconnecting while the server is down; commands time out in 3 s.
    public override string Connection => $"127.0.0.1:{Port},abortConnect=false,connectTimeout=2000,syncTimeout=3000,asyncTimeout=3000";

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(Program) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Directory };
        foreach (var arg in new[]
        {
            "--port", Port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
            "--appendfsync", "always", "--dir", Directory, "--daemonize", "no", "--logfile", Path.Combine(Directory, "redis.log"),
        })
        {
            info.ArgumentList.Add(arg);
        }
        _server = System.Diagnostics.Process.Start(info) ?? throw new InvalidOperationException("could not start redis-server");
        var deadline = DateTime.UtcNow.AddSeconds(30);
        // A PONG, not a LOADING error: the AOF is replayed before the server takes commands.
        while (!await AnswersPingAsync(cancellationToken))
        {
            if (_server.HasExited || DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"redis-server did not start; see {Path.Combine(Directory, "redis.log")}: "
                    + (File.Exists(Path.Combine(Directory, "redis.log")) ? File.ReadAllText(Path.Combine(Directory, "redis.log")) : ""));
            }
            await Task.Delay(20, cancellationToken);
        }
    }

    public override async Task KillAsync()
    {
        if (_server is not { HasExited: false } server)
        {
            return;
        }
        server.Kill(); // SIGKILL on Linux
        await server.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        server.Dispose();
        _server = null;
    }

    private async Task<bool> AnswersPingAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var client = new TcpClient();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(1000);
            await client.ConnectAsync(IPAddress.Loopback, Port, timeout.Token);
            var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray(), timeout.Token);
            var buffer = new byte[64];
            var read = await stream.ReadAsync(buffer, timeout.Token);
            return Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG", StringComparison.Ordinal);
        }
        catch (Exception ex) when (ex is SocketException or IOException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }
}
