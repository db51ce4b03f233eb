using System.Text.Json;
using System.Text.Json.Serialization;
using ConversationLedger.Extensions.AI;
using Microsoft.Agents.AI;
using Microsoft.Extensions.AI;

namespace ConversationLedger.Agents;

/// <summary>
/// Keeps an agent's chat history in a <see cref="Ledger"/> thread, so a <c>ChatClientAgent</c> remembers across processes
/// in SQLite, PostgreSQL or Redis. Before each run the history is what the ledger's policy selects for the new message
/// (window, pinned turns, running summary, token budget; a due summary is written first); after a successful run the new
/// messages are committed as ledger turns (each user message or tool result with the reply that answered it).
/// </summary>
/// <remarks>
/// The provider holds no per-session data: a session's thread is kept in its <see cref="AgentSession.StateBag"/> under
/// <see cref="LedgerChatHistoryProviderOptions.StateKey"/>, so it survives <c>SerializeSessionAsync</c> /
/// <c>DeserializeSessionAsync</c>, and one provider serves any number of sessions concurrently. A failed run stores nothing;
/// a run during which another writer committed to the thread fails with <see cref="ConcurrencyConflictException"/> once the
/// model answered, and stores nothing either.
/// The agent hands history providers messages, not responses: to record each model call's usage and cost, build the
/// agent's chat client with <see cref="MessageUsageChatClientBuilderExtensions.UseMessageUsage"/> (else the usage records
/// are zero). The ledger's own model client is used only to write summaries.
/// </remarks>
public sealed class LedgerChatHistoryProvider : ChatHistoryProvider
{
    private readonly Ledger _ledger;
    private readonly ProviderSessionState<LedgerSessionState> _state;
    private readonly string _stateKey;

    /// <summary>Creates a provider over <paramref name="ledger"/>.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="ledger"/> is null.</exception>
    /// <exception cref="ArgumentException">The options' state key is empty.</exception>
    public LedgerChatHistoryProvider(Ledger ledger, LedgerChatHistoryProviderOptions? options = null)
        : base(provideOutputMessageFilter: null, storeInputRequestMessageFilter: null, storeInputResponseMessageFilter: null)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        options ??= new LedgerChatHistoryProviderOptions();
        ArgumentException.ThrowIfNullOrWhiteSpace(options.StateKey, nameof(options));
        ArgumentNullException.ThrowIfNull(options.NewThread, nameof(options));
        _ledger = ledger;
        _stateKey = options.StateKey;
        var newThread = options.NewThread;
        _state = new ProviderSessionState<LedgerSessionState>(
            session => new LedgerSessionState { Thread = newThread(session).ToString() }, _stateKey);
    }

    /// <summary>The ledger the history is kept in.</summary>
    public Ledger Ledger => _ledger;

    /// <inheritdoc />
    public override IReadOnlyList<string> StateKeys => [_stateKey];

    /// <summary>The ledger thread of <paramref name="session"/> (assigned on first use and kept in the session's state).</summary>
    public ThreadKey GetThreadKey(AgentSession? session) => LedgerChatClientOptions.DefaultThreadKey(_state.GetOrInitializeState(session).Thread);

    /// <inheritdoc />
    protected override async ValueTask<IEnumerable<ChatMessage>> ProvideChatHistoryAsync(InvokingContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        var key = Key(context.Session);
        var conversation = _ledger.Open(key);
        var incoming = context.RequestMessages.Where(m => m.Role != ChatRole.System && m.Contents.Count > 0).ToList();
        List<ChatMessage> history;
        if (incoming.Count == 0)
        {
            var view = await conversation.LoadAsync(cancellationToken);
            history = ChatConversion.ToChatMessages(new ModelRequest
            {
                Model = _ledger.Options.Model,
                MaxTokens = _ledger.Options.MaxTokens,
                System = view.SystemPrompt is { } prompt ? [ContentBlock.CreateText(prompt)] : [],
                Messages = view.AsMessages(),
            });
        }
        else
        {
            // The request the ledger would send for the new message: the policy's window (a due summary is written first),
            // pins, summary and system prompt, fitted to the budget. Its last message is the new one, which the agent adds.
            var (user, _) = ChatConversion.ToUserMessage(incoming);
            // Only the request is wanted here; the turn lease goes back at once (the run's turns are committed after the call).
            await using var pending = await conversation.BeginTurnAsync(user, null, cancellationToken);
            history = ChatConversion.ToChatMessages(pending.Request);
            history.RemoveAt(history.Count - 1);
        }
        // The run's turns are committed after the call; the thread's newest entry now is how a writer that commits in
        // between is told apart (kept in the session, as the provider keeps nothing per session).
        var state = _state.GetOrInitializeState(context.Session);
        state.Sequence = (await _ledger.Store.GetHeadAsync(conversation.Key, cancellationToken)).LastSequence;
        _state.SaveState(context.Session, state);
        return history;
    }

    /// <inheritdoc />
    protected override async ValueTask StoreChatHistoryAsync(InvokedContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.InvokeException is not null || context.ResponseMessages is not { } responses)
        {
            return;
        }
        var conversation = _ledger.Open(Key(context.Session));
        if (_state.GetOrInitializeState(context.Session).Sequence is { } seen
            && (await _ledger.Store.GetHeadAsync(conversation.Key, cancellationToken)).LastSequence is var now && now != seen)
        {
            throw new ConcurrencyConflictException(conversation.Key, seen, now);
        }
        // A run is one or more exchanges: the caller's message, then (in a tool loop) reply with tool calls, tool results,
        // reply … Each user-side message with the assistant message(s) answering it is one atomic ledger turn.
        var user = new List<ChatMessage>();
        var reply = new List<ChatMessage>();
        foreach (var message in context.RequestMessages.Concat(responses).Where(m => m.Role != ChatRole.System).Select(AsSent))
        {
            if (message.Role == ChatRole.Assistant)
            {
                reply.Add(message);
                continue;
            }
            if (reply.Count > 0)
            {
                await CommitAsync(conversation, user, reply, cancellationToken);
                user.Clear();
                reply.Clear();
            }
            user.Add(message);
        }
        if (reply.Count > 0)
        {
            await CommitAsync(conversation, user, reply, cancellationToken);
        }
    }

    private static async Task CommitAsync(Conversation conversation, List<ChatMessage> user, List<ChatMessage> reply, CancellationToken cancellationToken)
    {
        if (user.Count == 0)
        {
            throw new InvalidOperationException("an assistant message arrived without the user message it answers: the ledger keeps whole turns");
        }
        var (message, _) = ChatConversion.ToUserMessage(user);
        var pending = await conversation.BeginTurnAsync(message, null, cancellationToken);
        var answer = new Message(Role.Assistant, reply.SelectMany(m => ChatConversion.ToLedgerMessage(m).Content).ToArray());
        var stopReason = answer.Content.Any(b => b.Type == "tool_use") ? "tool_use" : "end_turn";
        await pending.CommitAsync(new ModelResponse(reply[^1].MessageId ?? "", pending.Request.Model, answer, stopReason, Usage(reply), null), cancellationToken);
    }

    // What MessageUsageChatClient put on the reply (zero without it): Microsoft.Extensions.AI counts cached tokens inside
    // the input count, the ledger apart.
    private static TokenUsage Usage(List<ChatMessage> reply)
    {
        var details = new UsageDetails();
        foreach (var usage in reply.SelectMany(m => m.Contents).OfType<UsageContent>())
        {
            details.Add(usage.Details);
        }
        var cached = details.CachedInputTokenCount ?? 0;
        return new TokenUsage
        {
            InputTokens = Math.Max(0, (details.InputTokenCount ?? 0) - cached),
            CacheReadInputTokens = cached,
            OutputTokens = details.OutputTokenCount ?? 0,
        };
    }

    // Tool results are stored as Anthropic's IChatClient sent them inside the run (the result's JSON as the content, is_error
    // always present): the replies after them carry thinking signed over those exact blocks, and the API checks it.
    private static ChatMessage AsSent(ChatMessage message)
    {
        if (!message.Contents.Any(c => c is FunctionResultContent && c.RawRepresentation is null))
        {
            return message;
        }
        var contents = message.Contents.Select(c => c is FunctionResultContent { RawRepresentation: null } result ? AsSent(result) : c).ToList();
        return new ChatMessage(message.Role, contents) { MessageId = message.MessageId, AuthorName = message.AuthorName };
    }

    private static AIContent AsSent(FunctionResultContent result)
    {
        var content = result.Result switch
        {
            JsonElement json => json.GetRawText(),
            null => "null",
            var other => JsonSerializer.Serialize(other, AIJsonUtilities.DefaultOptions),
        };
        var block = new System.Text.Json.Nodes.JsonObject
        {
            ["type"] = "tool_result",
            ["tool_use_id"] = result.CallId,
            ["is_error"] = result.Exception is not null,
            ["content"] = content,
        };
        return new FunctionResultContent(result.CallId, result.Result)
        {
            Exception = result.Exception,
            AdditionalProperties = new() { ["anthropic:block"] = block.ToJsonString() },
        };
    }

    private ThreadKey Key(AgentSession? session) => LedgerChatClientOptions.DefaultThreadKey(_state.GetOrInitializeState(session).Thread);

    /// <summary>What a session keeps for this provider: the name of its ledger thread.</summary>
    internal sealed class LedgerSessionState
    {
        [JsonPropertyName("thread")]
        public string Thread { get; set; } = "";

        /// <summary>The thread's newest entry when the current run's history was read (null before the first run).</summary>
        [JsonPropertyName("sequence")]
        public long? Sequence { get; set; }
    }
}
