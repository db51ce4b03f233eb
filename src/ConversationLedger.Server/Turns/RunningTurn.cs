using System.Globalization;
using System.Runtime.CompilerServices;
using ConversationLedger.Server.Api;
using Microsoft.AspNetCore.Mvc;

namespace ConversationLedger.Server.Turns;

/// <summary>
/// One event of a turn's stream. Its id is <c>INDEX.TEXT.THINKING</c>: its place in the stream and how many characters of
/// reply text and of thinking the stream had carried up to and including it, so any instance can send the rest of a
/// committed turn to a client that re-attaches with <c>Last-Event-ID</c>, without the events themselves being shared.
/// </summary>
internal sealed record TurnEvent(int Index, string Name, string Data, int TextChars, int ThinkingChars)
{
    /// <summary>The SSE id.</summary>
    public string Id => string.Create(CultureInfo.InvariantCulture, $"{Index}.{TextChars}.{ThinkingChars}");

    /// <summary>Reads an id written by <see cref="Id"/>; null when it is not one.</summary>
    public static (int Index, int TextChars, int ThinkingChars)? ParseId(string? id)
    {
        var parts = id?.Split('.');
        return parts is [var i, var t, var h]
            && int.TryParse(i, NumberStyles.None, CultureInfo.InvariantCulture, out var index)
            && int.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out var text)
            && int.TryParse(h, NumberStyles.None, CultureInfo.InvariantCulture, out var thinking)
            ? (index, text, thinking)
            : null;
    }
}

/// <summary>
/// A turn running in this instance: its events so far (kept until a while after it ends, for clients that re-attach) and
/// how it ended. It runs detached from the request that started it, so a dropped client does not cancel it unless it asked to.
/// </summary>
internal sealed class RunningTurn
{
    private readonly List<TurnEvent> _events = [];
    private readonly CancellationTokenSource _cancel;
    private readonly TaskCompletionSource<TurnOutcome> _outcome = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _textChars;
    private int _thinkingChars;

    internal RunningTurn(string id, ThreadKey key, bool recorded, CancellationToken stopping)
    {
        Id = id;
        Key = key;
        Recorded = recorded;
        _cancel = CancellationTokenSource.CreateLinkedTokenSource(stopping);
    }

    /// <summary>The turn's id (its ledger entries carry it).</summary>
    public string Id { get; }

    /// <summary>The thread.</summary>
    public ThreadKey Key { get; }

    /// <summary>Whether the shared turn records know it (streamed, or sent with an idempotency key).</summary>
    public bool Recorded { get; }

    /// <summary>How it ended, once it has.</summary>
    public Task<TurnOutcome> Outcome => _outcome.Task;

    /// <summary>Why it was cancelled, when it was.</summary>
    public string? CancelReason { get; private set; }

    internal CancellationToken Token => _cancel.Token;

    /// <summary>Cancels the turn (nothing of it is stored); <paramref name="reason"/> says why in its outcome.</summary>
    public void Cancel(string reason)
    {
        CancelReason ??= reason;
        try
        {
            _cancel.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // finished already
        }
    }

    /// <summary>The events after <paramref name="afterIndex"/> (-1: all), then each new one as it comes, until the turn ends.</summary>
    public async IAsyncEnumerable<TurnEvent> ReadAsync(int afterIndex, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var next = afterIndex + 1;
        while (true)
        {
            TurnEvent[] batch;
            Task changed;
            bool done;
            lock (_events)
            {
                batch = next < _events.Count ? _events.GetRange(next, _events.Count - next).ToArray() : [];
                changed = _changed.Task;
                done = _outcome.Task.IsCompleted;
            }
            foreach (var e in batch)
            {
                yield return e;
            }
            next += batch.Length;
            if (done)
            {
                yield break;
            }
            await changed.WaitAsync(cancellationToken);
        }
    }

    internal void Add(string name, string data, int addedText = 0, int addedThinking = 0)
    {
        lock (_events)
        {
            _textChars += addedText;
            _thinkingChars += addedThinking;
            _events.Add(new TurnEvent(_events.Count, name, data, _textChars, _thinkingChars));
            Signal();
        }
    }

    internal void Finish(TurnOutcome outcome)
    {
        lock (_events)
        {
            _outcome.TrySetResult(outcome);
            Signal();
        }
        _cancel.Dispose();
    }

    private void Signal()
    {
        var changed = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        changed.TrySetResult();
    }
}

/// <summary>How a turn ended: committed (its response) or not (the problem; nothing of it was stored).</summary>
internal sealed record TurnOutcome(TurnResponse? Response, ProblemDetails? Problem);
