using System.Runtime.InteropServices;

namespace ConversationLedger.Cli.Hosting;

/// <summary>
/// Routes Ctrl+C to the innermost thing that wants it: a streaming turn, the chat prompt, or — when nothing
/// claimed it — the whole command (through <see cref="Token"/>). Thread-safe.
/// </summary>
public sealed class Interrupts : IDisposable
{
    private readonly object _gate = new();
    private readonly List<Action> _handlers = [];
    private readonly CancellationTokenSource _command = new();
    private bool _hooked;
    private PosixSignalRegistration? _terminate;

    /// <summary>Cancelled when Ctrl+C arrives while no handler is pushed.</summary>
    public CancellationToken Token => _command.Token;

    /// <summary>
    /// Interrupts fed by the console's Ctrl+C (which then no longer kills the process). SIGTERM cancels the whole
    /// command at once, whatever claimed Ctrl+C: a service manager wants the process gone, not a hint.
    /// </summary>
    public static Interrupts FromConsole()
    {
        var interrupts = new Interrupts { _hooked = true };
        Console.CancelKeyPress += interrupts.OnCancelKeyPress;
        interrupts._terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            interrupts.Terminate();
        });
        return interrupts;
    }

    /// <summary>Cancels the whole command, whatever has claimed Ctrl+C.</summary>
    public void Terminate() => _command.Cancel();

    /// <summary>Makes <paramref name="handler"/> receive Ctrl+C until the returned handle is disposed.</summary>
    public IDisposable Push(Action handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        lock (_gate)
        {
            _handlers.Add(handler);
        }
        return new Pop(this, handler);
    }

    /// <summary>Delivers one interrupt, as Ctrl+C does.</summary>
    public void Raise()
    {
        Action? handler;
        lock (_gate)
        {
            handler = _handlers.Count > 0 ? _handlers[^1] : null;
        }
        if (handler is null)
        {
            _command.Cancel();
        }
        else
        {
            handler();
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_hooked)
        {
            Console.CancelKeyPress -= OnCancelKeyPress;
        }
        _terminate?.Dispose();
        _command.Dispose();
    }

    private void OnCancelKeyPress(object? sender, ConsoleCancelEventArgs e)
    {
        // Keep the process alive: cancellation ends the work cleanly and the command returns its own exit code.
        e.Cancel = true;
        Raise();
    }

    private sealed class Pop(Interrupts owner, Action handler) : IDisposable
    {
        public void Dispose()
        {
            lock (owner._gate)
            {
                owner._handlers.Remove(handler);
            }
        }
    }
}
