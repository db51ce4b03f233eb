using System.Runtime.CompilerServices;
using ConversationLedger;
using Microsoft.Extensions.AI;

namespace ConversationLedger.Extensions.AI;

/// <summary>
/// Gives any <see cref="IChatClient"/> durable memory. The caller sends only the new message(s) with
/// <see cref="ChatOptions.ConversationId"/> naming the thread; this client reads the thread's window under the ledger's
/// policy (writing a due summary first), sends window + new message to the inner client, and commits the user message and
/// the reply atomically once the inner call succeeded. A failed or cancelled inner call (or a broken stream) stores nothing.
/// Calls without a conversation id pass through untouched. The response carries the conversation id, so
/// <c>FunctionInvokingChatClient</c> above this client sends only tool results on its next round.
/// </summary>
/// <remarks>
/// Messages are handed to the inner client with each content's <see cref="AIContent.RawRepresentation"/> set to the
/// Anthropic SDK's block (built from the stored JSON): Anthropic's <c>AsIChatClient()</c> sends those verbatim, so
/// thinking signatures, cache breakpoints and block types newer than Microsoft.Extensions.AI survive; other clients read
/// the typed contents. Replies are stored from the Anthropic SDK's raw message when the inner client returns one, else
/// from the typed contents. Thread-safe; a second writer on the same thread gets <see cref="ConcurrencyConflictException"/>.
/// </remarks>
public sealed class LedgerChatClient : DelegatingChatClient
{
    private readonly Ledger _ledger;
    private readonly LedgerChatClientOptions _options;

    /// <summary>Creates the client over <paramref name="innerClient"/>.</summary>
    public LedgerChatClient(IChatClient innerClient, Ledger ledger, LedgerChatClientOptions? options = null)
        : base(innerClient)
    {
        _ledger = ledger ?? throw new ArgumentNullException(nameof(ledger));
        _options = options ?? new LedgerChatClientOptions();
        ArgumentNullException.ThrowIfNull(_options.ThreadKey, nameof(options));
    }

    /// <summary>The ledger the turns are stored in.</summary>
    public Ledger Ledger => _ledger;

    /// <inheritdoc />
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (options?.ConversationId is not { } conversationId)
        {
            return await base.GetResponseAsync(messages, options, cancellationToken);
        }
        var (pending, history, innerOptions) = await BeginAsync(conversationId, messages, options, cancellationToken);
        await using var lease = pending; // a failed call gives the thread's turn lease back at once
        var response = await base.GetResponseAsync(history, innerOptions, cancellationToken);
        await pending.CommitAsync(ChatConversion.ToModelResponse(response, pending.Request.Model), cancellationToken);
        response.ConversationId = conversationId;
        return response;
    }

    /// <inheritdoc />
    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (options?.ConversationId is not { } conversationId)
        {
            await foreach (var update in base.GetStreamingResponseAsync(messages, options, cancellationToken))
            {
                yield return update;
            }
            yield break;
        }
        var (pending, history, innerOptions) = await BeginAsync(conversationId, messages, options, cancellationToken);
        await using var lease = pending; // a broken or abandoned stream gives the thread's turn lease back at once
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in base.GetStreamingResponseAsync(history, innerOptions, cancellationToken))
        {
            updates.Add(update);
            update.ConversationId = conversationId;
            yield return update;
        }
        // Stored only once the stream ended whole: a stream that breaks (or is abandoned) never gets here.
        await pending.CommitAsync(ChatConversion.ToModelResponse(updates.ToChatResponse(), pending.Request.Model), cancellationToken);
    }

    private async Task<(PendingTurn Pending, List<ChatMessage> History, ChatOptions Options)> BeginAsync(
        string conversationId, IEnumerable<ChatMessage> messages, ChatOptions options, CancellationToken cancellationToken)
    {
        var key = _options.ThreadKey(conversationId);
        var (user, instructions) = ChatConversion.ToUserMessage(messages);
        var turn = new TurnOptions { Model = options.ModelId, MaxTokens = options.MaxOutputTokens };
        var pending = await _ledger.Open(key).BeginTurnAsync(user, turn, cancellationToken);
        var inner = options.Clone();
        // The inner client gets the whole window; a conversation id would tell it the history is kept elsewhere.
        inner.ConversationId = null;
        inner.ModelId = pending.Request.Model;
        inner.MaxOutputTokens = pending.Request.MaxTokens;
        if (instructions is not null)
        {
            inner.Instructions = inner.Instructions is null ? instructions : inner.Instructions + "\n" + instructions;
        }
        return (pending, ChatConversion.ToChatMessages(pending.Request), inner);
    }
}
