using System.Diagnostics.CodeAnalysis;
using ConversationLedger;
using Microsoft.Extensions.AI;

namespace ConversationLedger.Extensions.AI;

/// <summary>
/// A ledger history policy as an <see cref="IChatReducer"/>, for pipelines that keep history in memory
/// (<c>UseChatReducer</c>): the policy picks what is sent exactly as it does for a ledger thread (pins, stepped windows,
/// token budgets; tool calls kept with their results), so the reduced list is always a valid request. System messages are
/// kept in front. A summarizing policy sends no summary here (a reducer makes no model calls): use
/// <see cref="LedgerChatClient"/> for that, which also does not reload the whole history every turn.
/// </summary>
[Experimental("MEAI001")]
public sealed class HistoryPolicyChatReducer : IChatReducer
{
    private static readonly ThreadKey Key = new("reducer", "reducer", "reducer");
    private readonly IHistoryPolicy _policy;

    /// <summary>Creates a reducer over <paramref name="policy"/> (e.g. <c>HistoryPolicies.Parse("window:20/10")</c>).</summary>
    public HistoryPolicyChatReducer(IHistoryPolicy policy) => _policy = policy ?? throw new ArgumentNullException(nameof(policy));

    /// <inheritdoc />
    public async Task<IEnumerable<ChatMessage>> ReduceAsync(IEnumerable<ChatMessage> messages, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var all = messages.ToList();
        var store = new InMemoryConversationStore();
        var turns = all.Where(m => m.Role != ChatRole.System).ToList();
        var entries = turns.Select(m => (LedgerEntry)new MessageEntry(ChatConversion.ToLedgerMessage(m))
        {
            Tokens = O200kTokenCounter.Instance.CountTokens(ChatConversion.ToLedgerMessage(m)),
        }).ToArray();
        if (entries.Length > 0)
        {
            await store.AppendAsync(Key, 0, entries, cancellationToken);
        }
        var selection = (await HistoryPlanner.SelectAsync(store, Key, _policy, cancellationToken)).Selection;
        // Entries are numbered from 1 in the order given, so each selected one is the caller's own message object.
        var kept = selection.Pinned.Concat(selection.Window).Select(m => turns[(int)m.Sequence - 1]);
        return all.Where(m => m.Role == ChatRole.System).Concat(kept).ToList();
    }
}
