namespace ConversationLedger;

/// <summary>Sums of usage under a label: a thread id or a day.</summary>
/// <param name="Label">The thread id, or the day as <c>yyyy-MM-dd</c>.</param>
/// <param name="Totals">The sums.</param>
public sealed record UsageGroup(string Label, UsageTotals Totals);
