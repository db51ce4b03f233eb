using Microsoft.Extensions.AI;

namespace ConversationLedger.Agents;

/// <summary>
/// Puts each response's token usage on its last message (as a <see cref="UsageContent"/>), so that a chat history provider,
/// which sees messages but not responses, can record what each model call cost. Put it directly over the model's client
/// (below function invocation, so every call of a tool loop keeps its own usage); <see cref="LedgerChatHistoryProvider"/>
/// stores it in the turn's usage record. Streamed responses pass through unchanged.
/// </summary>
public sealed class MessageUsageChatClient : DelegatingChatClient
{
    /// <summary>Creates the client over <paramref name="innerClient"/>.</summary>
    public MessageUsageChatClient(IChatClient innerClient)
        : base(innerClient)
    {
    }

    /// <inheritdoc />
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var response = await base.GetResponseAsync(messages, options, cancellationToken);
        if (response.Usage is { } usage && response.Messages.LastOrDefault(m => m.Role == ChatRole.Assistant) is { } last)
        {
            last.Contents.Add(new UsageContent(usage));
        }
        return response;
    }
}

/// <summary>Adds <see cref="MessageUsageChatClient"/> to a chat client pipeline.</summary>
public static class MessageUsageChatClientBuilderExtensions
{
    /// <summary>Puts each response's usage on its last message, for <see cref="LedgerChatHistoryProvider"/> to record.</summary>
    public static ChatClientBuilder UseMessageUsage(this ChatClientBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Use(inner => new MessageUsageChatClient(inner));
    }
}
