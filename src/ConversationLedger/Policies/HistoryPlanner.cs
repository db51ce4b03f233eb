using ConversationLedger.Storage;

namespace ConversationLedger;

/// <summary>What was read of a thread for the next request, and what of it the policy picked.</summary>
/// <param name="View">The conversation as read (the newest read, when the planner read more than once).</param>
/// <param name="Selection">What goes into the request before the new message.</param>
public sealed record PlannedHistory(ConversationView View, HistorySelection Selection);

/// <summary>
/// The selection protocol, the same for every <see cref="IHistoryPolicy"/>: read what the policy plans, let it select, and
/// take care of what no policy should have to know.
/// <list type="bullet">
/// <item>Inside a tool loop the window holds where the loop's question found it: the policy selects on the conversation as it
/// was when the question was sent (read as its plan read it then), and the loop follows. So the prompt prefix stays the
/// same through the loop, the prompt cache keeps hitting and the loop's thinking stays valid.</item>
/// <item>When that needs rows the plan did not read (the loop's question, or the older rows its window held), it reads
/// them — at most twice; after that the selection it has is used, which is valid too.</item>
/// <item>A <see cref="SummarizingPolicy"/>'s summary comes due on the final selection.</item>
/// </list>
/// </summary>
public static class HistoryPlanner
{
    // Wider reads after the plan's: once to find a long loop's question, once for the rows its window held.
    private const int MaxExtraReads = 2;

    // How much further back a read looks for the question of a long tool loop, as a multiple of what was read.
    private const int LoopLookBack = 4;

    // The fewest rows that multiple is taken of: a token window's read can hold a single long tool result, and four times
    // that would rarely reach the question, leaving the window to move inside the loop (and its thinking refused).
    private const int MinLoopRead = 16;

    /// <summary>Reads what <paramref name="policy"/> needs of the thread and selects the history for its next request.</summary>
    public static Task<PlannedHistory> SelectAsync(IConversationStore store, ThreadKey key, IHistoryPolicy policy, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(key);
        return SelectAsync(policy, async (spec, ct) => ConversationView.Project(await store.ReadWindowAsync(key, spec, ct)), cancellationToken);
    }

    /// <summary>The protocol over any read (the conversation loop's is timed, and leaves out what a retry withdraws).</summary>
    internal static async Task<PlannedHistory> SelectAsync(IHistoryPolicy policy, Func<WindowSpec, CancellationToken, Task<ConversationView>> read,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(policy);
        var (picker, summarizes) = policy is SummarizingPolicy summarizing ? (summarizing.Window, true) : (policy, false);
        var plan = FirstRead(policy);
        var view = await read(plan, cancellationToken);
        var (selection, more) = Select(picker, plan, view);
        for (var reads = 0; reads < MaxExtraReads && more is not null; reads++)
        {
            view = await read(more, cancellationToken);
            (selection, more) = Select(picker, plan, view);
        }
        return new PlannedHistory(view, summarizes ? SummarizingPolicy.WithSummaryDue(view, selection) : selection);
    }

    /// <summary>What the planner reads first for <paramref name="policy"/> (a turn can read it as it takes the thread's lease).</summary>
    internal static WindowSpec FirstRead(IHistoryPolicy policy) => (policy is SummarizingPolicy summarizing ? summarizing.Window : policy).Plan();

    // One selection on what was read, and the wider read that would make it right, if any.
    private static (HistorySelection Selection, WindowSpec? More) Select(IHistoryPolicy policy, WindowSpec plan, ConversationView view)
    {
        var units = view.Units;
        var messages = view.Messages;
        var firstRead = units.Tail < messages.Count ? messages[units.Tail].Ordinal : view.Head.RunningMessages + 1;
        var olderUnread = firstRead > view.MessagesBeforeReset + 1;
        if (units.Open is not { } loop || !loop.Whole)
        {
            // A loop longer than the rows read: look further back for its question. Meanwhile the window is placed as
            // usual (and cut inside the loop, before a reply).
            var more = units.Open is not null && olderUnread ? new WindowSpec { LastMessages = LoopLookBack * Math.Max(messages.Count - units.Tail, MinLoopRead) } : null;
            return (policy.Select(Planned(view, From(plan, view.Head.RunningMessages, view))), more);
        }

        // The plan as it read when the question was sent, in terms of today's head.
        var then = From(plan, messages[loop.Start].Ordinal - 1, view) with { LastTokens = plan.LastTokens + loop.Tokens };
        var before = Planned(view, then) with
        {
            Head = view.Head with
            {
                LastSequence = messages[loop.Start].Sequence - 1,
                RunningMessages = messages[loop.Start].Ordinal - 1,
                RunningTokens = view.Head.RunningTokens - loop.Tokens,
            },
            Messages = [.. messages.Take(loop.Start).Where((m, i) => m.Pinned || Holds(then, m.Ordinal, units.TokensBefore(i), view.Head.RunningTokens))],
        };
        var selection = policy.Select(before);
        selection = selection with { Window = [.. selection.Window, .. messages.Skip(loop.Start)] };
        return (selection, olderUnread && Holds(then, firstRead - 1, units.TokensBefore(units.Tail) - 1, view.Head.RunningTokens) ? then : null);
    }

    // A plan read when the thread had this many messages, its LastMessages turned into the FromMessage it stood for.
    private static WindowSpec From(WindowSpec plan, long messages, ConversationView view) => new()
    {
        FromMessage = WindowBounds.FirstMessage(plan with { LastTokens = null }, view.Head with { RunningMessages = messages }, view.MessagesBeforeReset),
        LastTokens = plan.LastTokens,
    };

    // The view marked with the first message its plan read (what the policy falls back to no question before).
    private static ConversationView Planned(ConversationView view, WindowSpec read)
    {
        var units = view.Units;
        var i = units.Tail;
        while (i < view.Messages.Count && !Holds(read, view.Messages[i].Ordinal, units.TokensBefore(i), view.Head.RunningTokens))
        {
            i++;
        }
        return view with { PlannedFrom = i < view.Messages.Count ? view.Messages[i].Ordinal : long.MaxValue };
    }

    // Whether a read (its LastMessages already turned into FromMessage) holds the message at this ordinal with this many of
    // the thread's tokens before it, out of the thread's total.
    private static bool Holds(WindowSpec read, long ordinal, long tokensBefore, long total) =>
        (read.FromMessage is not { } from || ordinal >= from) && (read.LastTokens is not { } last || tokensBefore >= total - last);
}
