namespace ConversationLedger.Storage;

/// <summary>
/// Where a <see cref="WindowSpec"/> starts, in message ordinals (a message's running message count: 1 is the thread's first
/// message), for store implementations. Stores find the two figures that need an index (the ordinal at the newest reset,
/// the first message inside a token budget) their own way; the rest is arithmetic on the head, written once here.
/// </summary>
public static class WindowBounds
{
    /// <summary>
    /// The window's first message ordinal: the latest of where the reset boundary, <see cref="WindowSpec.FromMessage"/>,
    /// <see cref="WindowSpec.LastMessages"/> and <see cref="WindowSpec.LastTokens"/> start it; past the newest message
    /// (<see cref="ThreadHead.RunningMessages"/> + 1) when the window holds no message.
    /// </summary>
    /// <param name="window">The window asked for.</param>
    /// <param name="head">The thread's head.</param>
    /// <param name="messagesAtReset">The running message count at the newest reset (0 when never reset).</param>
    /// <param name="firstInBudget">
    /// With <see cref="WindowSpec.LastTokens"/>: the ordinal of the oldest message from which on the newest messages fit the
    /// budget (the oldest whose running token sum before it is at least the head's sum less the budget), or null when not even the newest fits. Ignored without a token budget.
    /// </param>
    public static long FirstMessage(WindowSpec window, ThreadHead head, long messagesAtReset, long? firstInBudget = null)
    {
        ArgumentNullException.ThrowIfNull(window);
        ArgumentNullException.ThrowIfNull(head);
        var lo = Math.Max(1, messagesAtReset + 1);
        if (window.FromMessage is { } from)
        {
            lo = Math.Max(lo, from);
        }
        if (window.LastMessages is { } last)
        {
            lo = Math.Max(lo, head.RunningMessages - last + 1);
        }
        if (window.LastTokens is not null)
        {
            lo = Math.Max(lo, firstInBudget ?? head.RunningMessages + 1);
        }
        return lo;
    }
}
