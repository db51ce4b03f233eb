using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;

namespace ConversationLedger.Server.Tests.Support;

/// <summary>
/// A real <c>ConversationLedger.Server</c> process on a free loopback port, with everything it writes kept (so tests can
/// check that keys and message text never reach the logs). Killed when disposed unless it already exited.
/// </summary>
public sealed partial class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();

    private ServerProcess(Process process, Uri url)
    {
        _process = process;
        Url = url;
    }

    /// <summary>Where it listens.</summary>
    public Uri Url { get; private set; }

    /// <summary>Everything it wrote, stdout and stderr.</summary>
    public string Output => string.Join('\n', _output);

    /// <summary>Whether it is still running.</summary>
    public bool Running => !_process.HasExited;

    /// <summary>Starts the service with these settings (<c>Server:Store</c> and so on) and waits until it listens.</summary>
    public static async Task<ServerProcess> StartAsync(IReadOnlyDictionary<string, string> settings)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(ServerDll());
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add("http://127.0.0.1:0");
        start.ArgumentList.Add("--Logging:LogLevel:Microsoft.AspNetCore=Information"); // every request logged: the logs are checked for secrets
        foreach (var (name, value) in settings)
        {
            start.ArgumentList.Add($"--{name}={value}");
        }
        start.Environment.Remove("ANTHROPIC_API_KEY"); // never the real API
        start.Environment["DOTNET_ENVIRONMENT"] = "Production";
        start.Environment["Logging__LogLevel__Default"] = "Information";
        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        var server = new ServerProcess(process, new Uri("http://127.0.0.1"));
        void Read(string? line)
        {
            if (line is null)
            {
                return;
            }
            server._output.Enqueue(line);
            if (ListeningLine().Match(line) is { Success: true } m)
            {
                listening.TrySetResult(new Uri(m.Groups[1].Value));
            }
        }
        process.OutputDataReceived += (_, e) => Read(e.Data);
        process.ErrorDataReceived += (_, e) => Read(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var exited = process.WaitForExitAsync();
        var first = await Task.WhenAny(listening.Task, exited, Task.Delay(TimeSpan.FromSeconds(60)));
        if (first != listening.Task)
        {
            await server.DisposeAsync();
            throw new InvalidOperationException($"the service did not start:\n{server.Output}");
        }
        server.Url = await listening.Task;
        return server;
    }

    /// <summary>Asks it to stop as a service manager does (SIGTERM) and waits for it to exit; returns its exit code.</summary>
    public async Task<int> TerminateAsync(TimeSpan timeout)
    {
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill!.WaitForExitAsync();
        }
        await _process.WaitForExitAsync().WaitAsync(timeout);
        return _process.ExitCode;
    }

    /// <summary>Kills it at once (SIGKILL), as a crash would.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            await KillAsync();
        }
        _process.Dispose();
    }

    // The service's own build output, beside this test project's.
    private static string ServerDll()
    {
        var folder = AppContext.BaseDirectory.Replace("/tests/ConversationLedger.Server.Tests/bin/", "/src/ConversationLedger.Server/bin/", StringComparison.Ordinal);
        var path = Path.Combine(folder, "ConversationLedger.Server.dll");
        return File.Exists(path) ? path : throw new FileNotFoundException("build src/ConversationLedger.Server first", path);
    }

    [GeneratedRegex(@"Now listening on: (http://\S+)")]
    private static partial Regex ListeningLine();
}
