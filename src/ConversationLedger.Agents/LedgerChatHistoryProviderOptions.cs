using Microsoft.Agents.AI;

namespace ConversationLedger.Agents;

/// <summary>Settings of <see cref="LedgerChatHistoryProvider"/>.</summary>
public sealed class LedgerChatHistoryProviderOptions
{
    /// <summary>
    /// Names the ledger thread of a session that has none yet (called once per session; the answer is kept in the session's
    /// serializable state). <value>The default value gives each session a new thread of tenant "agents", scope "default",
    /// named by a new GUID.</value>
    /// </summary>
    public Func<AgentSession?, ThreadKey> NewThread { get; set; } = static _ => new ThreadKey("agents", "default", Guid.NewGuid().ToString("N"));

    /// <summary>
    /// The key under which the thread is kept in <see cref="AgentSession.StateBag"/>. Two providers in one session need two
    /// keys. <value>The default value is "LedgerChatHistoryProvider".</value>
    /// </summary>
    public string StateKey { get; set; } = nameof(LedgerChatHistoryProvider);
}
