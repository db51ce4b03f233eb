namespace ConversationLedger.Emulator;

/// <summary>Scripted replies, consumed one per answered <c>/v1/messages</c> call, first in first out. Thread-safe.</summary>
public sealed class ReplyScript
{
    private readonly Queue<ScriptedReply> _queue = new();
    private readonly Lock _lock = new();

    /// <summary>Replies still queued.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _queue.Count;
            }
        }
    }

    /// <summary>Queues replies in order.</summary>
    public void Enqueue(params IEnumerable<ScriptedReply> replies)
    {
        ArgumentNullException.ThrowIfNull(replies);
        var list = replies.ToList();
        lock (_lock)
        {
            foreach (var reply in list)
            {
                _queue.Enqueue(reply ?? throw new ArgumentException("a scripted reply is null", nameof(replies)));
            }
        }
    }

    /// <summary>Takes the next reply, if any.</summary>
    public bool TryDequeue(out ScriptedReply reply)
    {
        lock (_lock)
        {
            return _queue.TryDequeue(out reply!);
        }
    }

    /// <summary>Removes every queued reply.</summary>
    public void Clear()
    {
        lock (_lock)
        {
            _queue.Clear();
        }
    }
}
