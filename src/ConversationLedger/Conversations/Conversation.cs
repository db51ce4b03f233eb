using System.Runtime.CompilerServices;

namespace ConversationLedger;

/// <summary>
/// One thread's conversation loop: what the guide's <c>chat()</c> does, done so that the ledger stays valid.
/// A turn is committed atomically after the model answered — the user message, the reply and the usage record
/// together — so a failed or cancelled call leaves the ledger exactly as it was. Safe to use concurrently:
/// a second writer gets <see cref="ConcurrencyConflictException"/> (or waits and retries, if configured).
/// </summary>
public sealed class Conversation
{
    private readonly Ledger _ledger;

    internal Conversation(Ledger ledger, ThreadKey key)
    {
        _ledger = ledger;
        Key = key;
    }

    /// <summary>The thread.</summary>
    public ThreadKey Key { get; }

    private LedgerOptions Options => _ledger.Options;

    private IConversationStore Store => _ledger.Store;

    /// <summary>Reads the current conversation (the whole of it since the newest reset) and checks it.</summary>
    /// <exception cref="LedgerValidationException">The stored conversation breaks strict alternation (a damaged or hand-edited store).</exception>
    public async Task<ConversationView> LoadAsync(CancellationToken cancellationToken = default)
    {
        var view = ConversationView.Project(await Store.ReadWindowAsync(Key, WindowSpec.All, cancellationToken));
        ConversationValidator.ThrowIfInvalid(view.AsMessages(), ValidationOptions.StrictHistory);
        return view;
    }

    /// <summary>Sends a user message and commits the turn.</summary>
    public Task<TurnResult> SendAsync(string text, CancellationToken cancellationToken = default) =>
        SendAsync(Message.User(text), cancellationToken);

    /// <summary>Sends a user message (text, images, tool results …) and commits the turn.</summary>
    /// <exception cref="LedgerValidationException">The request would break the API's rules; nothing was sent.</exception>
    /// <exception cref="ModelCallException">The model call failed; nothing was stored.</exception>
    /// <exception cref="ConcurrencyConflictException">Another writer committed first; nothing was stored.</exception>
    public async Task<TurnResult> SendAsync(Message userMessage, CancellationToken cancellationToken = default)
    {
        CheckUserMessage(userMessage);
        if (Options.OnConflict == ConflictHandling.Throw)
        {
            return await SendOnceAsync(userMessage, cancellationToken);
        }

        var gate = _ledger.GateFor(Key);
        await gate.WaitAsync(cancellationToken);
        try
        {
            for (var attempt = 0; ; attempt++)
            {
                try
                {
                    return await SendOnceAsync(userMessage, cancellationToken);
                }
                catch (ConcurrencyConflictException) when (attempt < Options.MaxConflictRetries)
                {
                    // Another process won; the next attempt reads its turn and sends on top of it.
                }
            }
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// Sends a user message and streams the reply: text and thinking deltas as they arrive, then
    /// <see cref="TurnCommitted"/> once the turn is stored. If the stream breaks or the caller stops
    /// enumerating, nothing is stored.
    /// </summary>
    public async IAsyncEnumerable<TurnUpdate> StreamAsync(Message userMessage, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        CheckUserMessage(userMessage);
        // With WaitAndRetry a stream queues behind this process's other turns on the thread, as SendAsync does.
        // It is not sent again after a conflict with another process: its deltas have already been shown.
        var gate = Options.OnConflict == ConflictHandling.WaitAndRetry ? _ledger.GateFor(Key) : null;
        if (gate is not null)
        {
            await gate.WaitAsync(cancellationToken);
        }
        try
        {
            var prepared = await PrepareAsync(userMessage, cancellationToken);
            ModelResponse? response = null;
            await foreach (var update in _ledger.Model.StreamAsync(prepared.Request, cancellationToken))
            {
                switch (update)
                {
                    case TextDelta text:
                        yield return new TurnTextDelta(text.Text);
                        break;
                    case ThinkingDelta thinking:
                        yield return new TurnThinkingDelta(thinking.Text);
                        break;
                    case StreamCompleted done:
                        response = done.Response;
                        break;
                }
            }
            if (response is null)
            {
                throw new ModelCallException("the stream ended without a complete message");
            }
            yield return new TurnCommitted(await CommitAsync(prepared, response, cancellationToken));
        }
        finally
        {
            gate?.Release();
        }
    }

    /// <summary>Streams the reply to a text message.</summary>
    public IAsyncEnumerable<TurnUpdate> StreamAsync(string text, CancellationToken cancellationToken = default) =>
        StreamAsync(Message.User(text), cancellationToken);

    /// <summary>
    /// Sets or changes the system prompt. Recorded as a ledger event with the turn it takes effect at; an
    /// unchanged prompt records nothing. An empty text clears it.
    /// </summary>
    public async Task SetSystemPromptAsync(string text, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        var view = ConversationView.Project(await Store.ReadWindowAsync(Key, new WindowSpec { LastMessages = 0 }, cancellationToken));
        if ((view.SystemPrompt ?? "") == text)
        {
            return;
        }
        var nextTurn = view.Head.RunningMessages / 2 + 1;
        await Store.AppendAsync(Key, view.Head.LastSequence, [new SystemPromptEntry(text, nextTurn)], cancellationToken);
    }

    /// <summary>Pins a message so that history policies always send it.</summary>
    /// <exception cref="LedgerNotFoundException">There is no message at that sequence since the newest reset.</exception>
    public Task PinAsync(long sequence, CancellationToken cancellationToken = default) => SetPinAsync(sequence, true, cancellationToken);

    /// <summary>Unpins a message.</summary>
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
    public async Task EditAsync(long sequence, Message replacement, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(replacement);
        var view = await LoadAsync(cancellationToken);
        var messages = view.Messages.ToList();
        var index = messages.FindIndex(m => m.Sequence == sequence);
        if (index < 0)
        {
            throw new LedgerNotFoundException($"thread {Key} has no message at entry {sequence} since its last reset");
        }
        var edited = messages.Select(m => m.Message).ToArray();
        edited[index] = replacement;
        ConversationValidator.ThrowIfInvalid(edited, ValidationOptions.StrictHistory);
        var entry = new EditEntry(sequence, replacement) { Tokens = 0 };
        await Store.AppendAsync(Key, view.Head.LastSequence, [entry], cancellationToken);
    }

    /// <summary>Forks this thread into <paramref name="target"/> after entry <paramref name="atSequence"/> (default: the newest).</summary>
    public async Task<Conversation> ForkAsync(ThreadKey target, long? atSequence = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(target);
        var at = atSequence ?? (await Store.GetHeadAsync(Key, cancellationToken)).LastSequence;
        await Store.ForkAsync(Key, at, target, cancellationToken);
        return _ledger.Open(target);
    }

    private async Task<TurnResult> SendOnceAsync(Message userMessage, CancellationToken cancellationToken)
    {
        var prepared = await PrepareAsync(userMessage, cancellationToken);
        var response = await _ledger.Model.SendAsync(prepared.Request, cancellationToken);
        return await CommitAsync(prepared, response, cancellationToken);
    }

    private async Task<PreparedTurn> PrepareAsync(Message userMessage, CancellationToken cancellationToken)
    {
        var view = ConversationView.Project(await Store.ReadWindowAsync(Key, WindowSpec.All, cancellationToken));
        var messages = view.AsMessages().Append(userMessage).ToArray();
        ConversationValidator.ThrowIfInvalid(messages, ValidationOptions.StrictRequest);
        var request = new ModelRequest
        {
            Model = Options.Model,
            MaxTokens = Options.MaxTokens,
            System = view.SystemPrompt is { } system ? [ContentBlock.CreateText(system)] : [],
            Messages = messages,
        };
        return new PreparedTurn(view.Head, userMessage, request);
    }

    private async Task<TurnResult> CommitAsync(PreparedTurn prepared, ModelResponse response, CancellationToken cancellationToken)
    {
        var reply = response.Message;
        var history = prepared.Request.Messages.Append(reply).ToArray();
        var problems = ConversationValidator.Validate(history, ValidationOptions.StrictHistory);
        if (problems.Count > 0)
        {
            throw new ModelCallException(
                $"the reply (stop_reason {response.StopReason ?? "none"}) cannot be stored: {string.Join("; ", problems)}",
                requestId: response.RequestId);
        }

        var counter = Options.TokenCounter;
        var turnId = Guid.CreateVersion7().ToString("N");
        var cost = Options.Models.Cost(response.Model, response.Usage);
        var record = new UsageRecord(response.Model, response.Usage, cost, response.RequestId, response.StopReason);
        LedgerEntry[] entries =
        [
            new MessageEntry(prepared.User) { TurnId = turnId, Tokens = counter.CountTokens(prepared.User) },
            new MessageEntry(reply) { TurnId = turnId, Tokens = counter.CountTokens(reply) },
            new UsageEntry(record) { TurnId = turnId },
        ];
        var stored = await Store.AppendAsync(Key, prepared.Head.LastSequence, entries, cancellationToken);
        return new TurnResult
        {
            Key = Key,
            TurnId = turnId,
            User = (MessageEntry)stored.Entries[0],
            Reply = (MessageEntry)stored.Entries[1],
            Usage = (UsageEntry)stored.Entries[2],
            Head = stored.Head,
            MessagesSent = prepared.Request.Messages.Count,
            ContextWindow = Options.Models.TryGet(response.Model, out var info) || Options.Models.TryGet(Options.Model, out info)
                ? info.ContextWindow : 0,
        };
    }

    private async Task SetPinAsync(long sequence, bool pinned, CancellationToken cancellationToken)
    {
        var view = await LoadAsync(cancellationToken);
        if (view.Messages.All(m => m.Sequence != sequence))
        {
            throw new LedgerNotFoundException($"thread {Key} has no message at entry {sequence} since its last reset");
        }
        await Store.AppendAsync(Key, view.Head.LastSequence, [new PinEntry(sequence, pinned)], cancellationToken);
    }

    private static void CheckUserMessage(Message userMessage)
    {
        ArgumentNullException.ThrowIfNull(userMessage);
        if (userMessage.Role != Role.User)
        {
            throw new ArgumentException($"a turn starts with a user message, got {userMessage.Role}", nameof(userMessage));
        }
    }

    private sealed record PreparedTurn(ThreadHead Head, Message User, ModelRequest Request);
}
