namespace ConversationLedger;

// Changes that are not turns: undo, system prompt, pins, reset, edits, forks.
public sealed partial class Conversation
{
    /// <summary>
    /// Withdraws the newest turn (its question, its reply and, in a tool loop, every call and result of it): a retraction
    /// per message, appended as one ledger event. The messages stay in the ledger (<c>ledger show --all</c>); the next
    /// request is sent without them. Takes no turn lease, as pins and edits do not; the append's expected sequence guards it.
    /// </summary>
    /// <returns>The messages withdrawn, oldest first.</returns>
    /// <exception cref="LedgerException">There is no turn since the newest reset, or the newest turn is already summarized.</exception>
    /// <exception cref="ConcurrencyConflictException">Another writer appended meanwhile; nothing was stored.</exception>
    public async Task<IReadOnlyList<LedgerMessage>> UndoAsync(CancellationToken cancellationToken = default)
    {
        var view = await ReadPolicyWindowAsync(new WindowSpec { LastMessages = LastTurnRead }, cancellationToken);
        var (head, turn) = await LastTurnAsync(view, cancellationToken);
        await AppendAsync(head.LastSequence, [.. Retractions(turn, null)], cancellationToken);
        return turn;
    }

    // How many of the newest messages are read to find the newest turn; a longer tool loop reads the whole conversation.
    private const int LastTurnRead = 64;

    // The newest turn: the newest unit when it is whole among the rows read (else the whole conversation is read).
    private async Task<(ThreadHead Head, IReadOnlyList<LedgerMessage> Turn)> LastTurnAsync(ConversationView view, CancellationToken cancellationToken)
    {
        if (view.Units.Newest is null && view.Messages.Count > 0)
        {
            view = await LoadAsync(cancellationToken);
        }
        var newest = view.Units.Newest ?? throw new LedgerException($"thread {Key} has no turn since its last reset to take back");
        var turn = view.Messages.Skip(newest.Start).ToArray();
        if (view.Summary is { } summary && summary.ThroughSequence >= turn[0].Sequence)
        {
            throw new LedgerException($"the newest turn of thread {Key} is part of its summary and can no longer be taken back");
        }
        return (view.Head, turn);
    }

    /// <summary>
    /// Sets or changes the system prompt. Recorded as a ledger event with the turn it takes effect at; an
    /// unchanged prompt records nothing. An empty text clears it.
    /// </summary>
    /// <exception cref="LedgerException">Thinking is on and the thread is in an open tool loop (the change would invalidate the loop's thinking).</exception>
    public async Task SetSystemPromptAsync(string text, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        var view = ConversationView.Project(await Store.ReadWindowAsync(Key, new WindowSpec { LastMessages = 1 }, cancellationToken));
        if ((view.SystemPrompt ?? "") == text)
        {
            return;
        }
        ThrowIfThinkingLoopOpen(view, "the system prompt");
        var nextTurn = view.Head.RunningMessages / 2 + 1;
        var entry = new SystemPromptEntry(text, nextTurn) { Previous = view.SystemPrompt ?? "" };
        await Store.AppendAsync(Key, view.Head.LastSequence, [entry], cancellationToken);
    }

    /// <summary>Pins a message (and the rest of its turn) so that windowed policies always send it.</summary>
    /// <exception cref="LedgerNotFoundException">There is no message at that sequence since the newest reset.</exception>
    /// <exception cref="LedgerException">Thinking is on and the thread is in an open tool loop (the change would invalidate the loop's thinking).</exception>
    public Task PinAsync(long sequence, CancellationToken cancellationToken = default) => SetPinAsync(sequence, true, cancellationToken);

    /// <summary>Unpins a message (and the rest of its turn).</summary>
    /// <exception cref="LedgerNotFoundException">There is no message at that sequence since the newest reset.</exception>
    /// <exception cref="LedgerException">Thinking is on and the thread is in an open tool loop (the change would invalidate the loop's thinking).</exception>
    public Task UnpinAsync(long sequence, CancellationToken cancellationToken = default) => SetPinAsync(sequence, false, cancellationToken);

    /// <summary>Starts afresh: later requests carry nothing from before; the archive stays readable.</summary>
    public async Task ResetAsync(string? reason = null, CancellationToken cancellationToken = default)
    {
        var head = await Store.GetHeadAsync(Key, cancellationToken);
        await Store.AppendAsync(Key, head.LastSequence, [new ResetEntry(reason)], cancellationToken);
    }

    /// <summary>
    /// Replaces a message with a new version (the original stays in the ledger). The conversation with the edit
    /// applied must still be valid; otherwise nothing is stored.
    /// </summary>
    /// <exception cref="LedgerNotFoundException">There is no message at that sequence since the newest reset.</exception>
    /// <exception cref="LedgerValidationException">The edited conversation would be invalid.</exception>
    /// <exception cref="LedgerException">Thinking is on and the thread is in an open tool loop (the change would invalidate the loop's thinking).</exception>
    public async Task EditAsync(long sequence, Message replacement, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(replacement);
        var view = await LoadAsync(cancellationToken);
        var index = IndexOf(view, sequence);
        ThrowIfThinkingLoopOpen(view, "an earlier message");
        var edited = view.AsMessages().ToArray();
        edited[index] = replacement;
        ConversationValidator.ThrowIfInvalid(edited, ValidationOptions.StrictHistory);
        var edit = new EditEntry(sequence, replacement) { ReplacementTokens = _ledger.TokenCounter.CountTokens(replacement) };
        await Store.AppendAsync(Key, view.Head.LastSequence, [edit], cancellationToken);
    }

    /// <summary>Forks this thread into <paramref name="target"/> after entry <paramref name="atSequence"/> (default: the newest).</summary>
    /// <exception cref="LedgerNotFoundException">This thread or the entry does not exist.</exception>
    /// <exception cref="LedgerException">The entry is a question whose reply comes after it.</exception>
    /// <exception cref="ConcurrencyConflictException">The target thread already exists.</exception>
    public async Task<Conversation> ForkAsync(ThreadKey target, long? atSequence = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(target);
        var at = atSequence ?? (await Store.GetHeadAsync(Key, cancellationToken)).LastSequence;
        await CheckForkPointAsync(at, cancellationToken);
        await Store.ForkAsync(Key, at, target, cancellationToken);
        return _ledger.Open(target);
    }

    // A retraction per message: the turn is withdrawn, nothing is overwritten.
    private static IEnumerable<LedgerEntry> Retractions(IEnumerable<LedgerMessage> turn, string? turnId) =>
        turn.Select(m => new EditEntry(m.Sequence, m.Message) { Retracted = true, ReplacementTokens = 0, TurnId = turnId });

    // A turn is stored whole: question, reply, usage. A fork right after a question would end with it, and every turn
    // sent on the fork would then put two user messages in a row, so the fork could never be continued.
    private async Task CheckForkPointAsync(long at, CancellationToken cancellationToken)
    {
        if (at < 1)
        {
            return; // the store reports a missing entry
        }
        var entry = await Store.ReadEntriesAsync(Key, at - 1, 1, cancellationToken);
        if (entry is [MessageEntry { Message.Role: var role }] && role == Role.User)
        {
            throw new LedgerException(
                $"entry {at} of thread {Key} is a user message whose reply comes after it; a fork there could never be continued; fork before it, or at its reply (entry {at + 1}) or later");
        }
    }

    private async Task SetPinAsync(long sequence, bool pinned, CancellationToken cancellationToken)
    {
        var view = await LoadAsync(cancellationToken);
        var index = IndexOf(view, sequence);
        ThrowIfThinkingLoopOpen(view, "the pins"); // a pin moves its turn in front of the window
        // Pins apply to whole turns: a lone pinned question or answer would break alternation when sent.
        var turn = view.Units.At(index);
        var pins = view.Messages.Skip(turn.Start).Take(turn.Count)
            .Select(m => (LedgerEntry)new PinEntry(m.Sequence, pinned))
            .ToArray();
        await Store.AppendAsync(Key, view.Head.LastSequence, pins, cancellationToken);
    }

    // With thinking on, the API wants the open tool loop's newest reply back with its thinking, signed over the prompt as
    // it was: after a change before it, no request could continue the loop. Refused here, before anything is stored.
    private void ThrowIfThinkingLoopOpen(ConversationView view, string what)
    {
        if (Defaults.ThinksOn(_ledger.Models.Get(Defaults.Model)) && view.Messages is [.., { Message.CallsTools: true }])
        {
            throw new LedgerException(
                $"thread {Key} is in the middle of a tool loop with thinking on: changing {what} now would invalidate the loop's thinking; send the tool result first and change it after the loop");
        }
    }

    private int IndexOf(ConversationView view, long sequence)
    {
        for (var i = 0; i < view.Messages.Count; i++)
        {
            if (view.Messages[i].Sequence == sequence)
            {
                return i;
            }
        }
        throw new LedgerNotFoundException($"thread {Key} has no message at entry {sequence} since its last reset");
    }
}
