using System.Collections.Concurrent;

namespace ConversationLedger.Cli.Tests.Support;

/// <summary>Standard input that a test feeds line by line while the chat runs; ReadLine blocks until a line comes.</summary>
public sealed class BlockingInput : TextReader
{
    private readonly BlockingCollection<string> _lines = [];

    /// <summary>Signalled when the chat first waits for a line.</summary>
    public TaskCompletionSource Waiting { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Add(string line) => _lines.Add(line);

    public override string? ReadLine()
    {
        Waiting.TrySetResult();
        return _lines.Take();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _lines.Dispose();
        }
        base.Dispose(disposing);
    }
}
