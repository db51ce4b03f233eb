using ConversationLedger;
using ConversationLedger.Extensions.AI;

namespace Microsoft.Extensions.AI;

/// <summary>Adds <see cref="LedgerChatClient"/> to a <see cref="ChatClientBuilder"/> pipeline.</summary>
public static class LedgerChatClientBuilderExtensions
{
    /// <summary>
    /// Keeps every conversation named by <see cref="ChatOptions.ConversationId"/> in <paramref name="ledger"/> (null: the
    /// <see cref="Ledger"/> from the pipeline's services). Put it below <c>UseFunctionInvocation()</c> so each model call
    /// of a tool loop is a turn.
    /// </summary>
    public static ChatClientBuilder UseConversationLedger(this ChatClientBuilder builder, Ledger? ledger = null, Action<LedgerChatClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Use((inner, services) =>
        {
            var options = new LedgerChatClientOptions();
            configure?.Invoke(options);
            var resolved = ledger ?? services.GetService(typeof(Ledger)) as Ledger
                ?? throw new InvalidOperationException("no Ledger given and none registered: pass one, or call services.AddConversationLedger()");
            return new LedgerChatClient(inner, resolved, options);
        });
    }
}
