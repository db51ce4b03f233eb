using System.Collections.Concurrent;
using System.Text;
using ConversationLedger.Cli.Chat.Input;

namespace ConversationLedger.Cli.Tests.Support;

/// <summary>
/// A terminal that types what the test scripted: byte chunks (as a terminal in raw mode sends them: "\r" for Enter,
/// "\u001b[D" for Left, "\u001b[200~ … \u001b[201~" around a paste) and actions run between them (Ctrl+C through the
/// interrupts). When the script is used up it reports the end of input, so a read never hangs a test.
/// </summary>
public sealed class ScriptedTerminal : ITerminal
{
    private readonly ConcurrentQueue<object> _script = new();
    private readonly StringWriter _output = new();

    public int Width { get; set; } = 80;

    public int Height { get; set; } = 24;

    public TextWriter Output => _output;

    /// <summary>Everything the editor drew.</summary>
    public string Drawn => _output.ToString();

    /// <summary>How often raw mode was entered and left (they must match).</summary>
    public int RawEntered { get; private set; }

    public int RawLeft { get; private set; }

    /// <summary>Queues keys to be read.</summary>
    public ScriptedTerminal Type(string keys)
    {
        _script.Enqueue(Encoding.UTF8.GetBytes(keys));
        return this;
    }

    /// <summary>Queues an action to run when the editor reads next (after the keys queued before it).</summary>
    public ScriptedTerminal Then(Action action)
    {
        _script.Enqueue(action);
        return this;
    }

    public IDisposable EnterRawMode()
    {
        RawEntered++;
        return new Leave(this);
    }

    public int Read(Span<byte> buffer, int timeoutMilliseconds)
    {
        if (!_script.TryDequeue(out var next))
        {
            return -1;
        }
        if (next is Action action)
        {
            action();
            // The action's effect (an interrupt) is seen on the editor's next turn round its loop.
            return 0;
        }
        var bytes = (byte[])next;
        bytes.CopyTo(buffer);
        return bytes.Length;
    }

    private sealed class Leave(ScriptedTerminal terminal) : IDisposable
    {
        public void Dispose() => terminal.RawLeft++;
    }
}
