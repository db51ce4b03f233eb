using System.Net;
using System.Net.Sockets;

namespace ConversationLedger.Benchmarks;

/// <summary>
/// A loopback TCP relay in front of a database server that counts round trips: every time a client starts sending again
/// after the server last answered on that connection is one (a pipelined batch, however many messages, counts once), and
/// every connection opened. Used only for counting at low load; it adds a hop, so nothing timed goes through it.
/// </summary>
internal sealed class RoundTripProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly string _host;
    private readonly int _port;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _pumps = [];
    private readonly Task _accepting;
    private long _roundTrips;
    private long _connections;

    public RoundTripProxy(string host, int port)
    {
        _host = host;
        _port = port;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    /// <summary>The port to connect to instead of the server's.</summary>
    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public long RoundTrips => Interlocked.Read(ref _roundTrips);

    public long Connections => Interlocked.Read(ref _connections);

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                Interlocked.Increment(ref _connections);
                lock (_pumps)
                {
                    _pumps.Add(RelayAsync(client));
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task RelayAsync(TcpClient client)
    {
        using (client)
        using (var server = new TcpClient())
        {
            client.NoDelay = true;
            server.NoDelay = true;
            await server.ConnectAsync(_host, _port, _stop.Token);
            // 1: the server answered last (the next client bytes start a round trip); 0: the client is mid-request.
            var answered = 1;
            var up = PumpAsync(client.GetStream(), server.GetStream(), () =>
            {
                if (Interlocked.Exchange(ref answered, 0) == 1)
                {
                    Interlocked.Increment(ref _roundTrips);
                }
            });
            var down = PumpAsync(server.GetStream(), client.GetStream(), () => Volatile.Write(ref answered, 1));
            await Task.WhenAny(up, down);
        }
    }

    private async Task PumpAsync(NetworkStream from, NetworkStream to, Action onData)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                var read = await from.ReadAsync(buffer, _stop.Token);
                if (read == 0)
                {
                    return;
                }
                onData();
                await to.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        Task[] pumps;
        lock (_pumps)
        {
            pumps = [.. _pumps];
        }
        await Task.WhenAll(pumps).WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { }, TaskScheduler.Default);
        _stop.Dispose();
    }
}
