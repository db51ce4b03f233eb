using ConversationLedger;

namespace ConversationLedger.Extensions.AI;

/// <summary>Settings of <see cref="LedgerChatClient"/>.</summary>
public sealed class LedgerChatClientOptions
{
    /// <summary>
    /// Maps <see cref="Microsoft.Extensions.AI.ChatOptions.ConversationId"/> to a ledger thread. <value>The default value is
    /// <see cref="DefaultThreadKey"/>: "tenant/scope/thread" names all three parts; any other id is a thread of tenant
    /// "default", scope "default".</value>
    /// </summary>
    public Func<string, ThreadKey> ThreadKey { get; set; } = DefaultThreadKey;

    /// <summary>The default mapping from a conversation id to a thread.</summary>
    public static ThreadKey DefaultThreadKey(string conversationId)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(conversationId);
        return conversationId.Split('/') is [var tenant, var scope, var thread] && tenant.Length > 0 && scope.Length > 0 && thread.Length > 0
            ? new ThreadKey(tenant, scope, thread)
            : new ThreadKey("default", "default", conversationId);
    }
}
