using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;

namespace ConversationLedger.Web.Tests.Support;

/// <summary>
/// A real <c>ConversationLedger.Server</c> process (what <c>ledger serve</c> runs) on a free loopback port, with everything it
/// writes kept for failure messages. Killed when disposed.
/// </summary>
public sealed partial class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();

    private ServerProcess(Process process)
    {
        _process = process;
    }

    /// <summary>Where it listens.</summary>
    public Uri Url { get; private set; } = new("http://127.0.0.1");

    /// <summary>Everything it wrote, stdout and stderr.</summary>
    public string Output => string.Join('\n', _output);

    /// <summary>Starts the service's own program with these settings and waits until it listens.</summary>
    public static Task<ServerProcess> StartAsync(IReadOnlyDictionary<string, string> settings) =>
        StartAsync([Built("ConversationLedger.Server", "ConversationLedger.Server.dll"), "--urls", "http://127.0.0.1:0",
            .. settings.Select(s => $"--{s.Key}={s.Value}")], new Dictionary<string, string>());

    /// <summary>
    /// Starts <c>ledger serve</c> itself on <paramref name="store"/>, with further settings from the environment
    /// (<c>Server__ModelTable</c> …), as a person runs it: replies from the emulator it starts inside the process.
    /// </summary>
    public static Task<ServerProcess> StartLedgerServeAsync(string store, IReadOnlyDictionary<string, string> environment) =>
        StartAsync([Built("ConversationLedger.Cli", "ledger.dll"), "serve", "--urls", "http://127.0.0.1:0", "--store", store], environment);

    private static async Task<ServerProcess> StartAsync(IEnumerable<string> arguments, IReadOnlyDictionary<string, string> environment)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        start.Environment.Remove("ANTHROPIC_API_KEY"); // never the real API
        start.Environment["DOTNET_ENVIRONMENT"] = "Production";
        start.Environment["Logging__LogLevel__Default"] = "Information";
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        var server = new ServerProcess(process);
        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
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
        var first = await Task.WhenAny(listening.Task, process.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(60)));
        if (first != listening.Task)
        {
            await server.DisposeAsync();
            throw new InvalidOperationException($"the service did not start:\n{server.Output}");
        }
        server.Url = await listening.Task;
        return server;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }

    // A project's own build output, beside this test project's (the project references make sure it is built).
    private static string Built(string project, string dll)
    {
        var folder = AppContext.BaseDirectory.Replace("/tests/ConversationLedger.Web.Tests/bin/", $"/src/{project}/bin/", StringComparison.Ordinal);
        var path = Path.Combine(folder, dll);
        return File.Exists(path) ? path : throw new FileNotFoundException($"build src/{project} first", path);
    }

    // The host's "Now listening on: URL", or ledger serve's own "listening on URL (…)".
    [GeneratedRegex(@"[Ll]istening on:? (http://[^\s,]+)")]
    private static partial Regex ListeningLine();
}
