using FsCheck;
using FsCheck.Xunit;

namespace ConversationLedger.Tests.Policies;

public sealed class PolicyPropertyTests
{
    private static readonly ModelCatalog SmallWindow = new(
    [
        new ModelInfo { Id = "tiny", ContextWindow = 6000, MaxOutput = 1000, InputPerMTok = 3, OutputPerMTok = 15, MinCacheableTokens = 100, ThinkingForms = ["adaptive", "disabled"] },
    ]);

    public static IEnumerable<object[]> Policies() => HistoryPolicies.Examples.Select(name => new object[] { HistoryPolicies.Parse(name) });

    private static IHistoryPolicy PolicyAt(int index) => HistoryPolicies.Parse(HistoryPolicies.Examples[Math.Abs(index % HistoryPolicies.Examples.Count)]);

    [Property(MaxTest = 300)]
    public void Every_policy_yields_a_request_the_API_accepts_and_that_fits_the_budget(PositiveInt seed, byte turns, int policyIndex) =>
        AssertSendable(seed.Get, turns % 60, PolicyAt(policyIndex), agentic: seed.Get % 3 == 0, thinking: seed.Get % 2 == 0);

    [Theory]
    [InlineData(15, 59, "truncate:6")] // ends in a tool loop longer than the window: once left an empty window
    public void Ledgers_that_once_broke_a_policy_stay_sendable(int seed, int turns, string policy) =>
        AssertSendable(seed, turns, HistoryPolicies.Parse(policy));

    private static void AssertSendable(int seed, int turns, IHistoryPolicy policy, bool agentic = false, bool thinking = false)
    {
        var store = RandomLedger.BuildAsync(seed, turns, agentic).GetAwaiter().GetResult();
        var options = new LedgerOptions { Model = "tiny", MaxTokens = 500, SafetyMarginTokens = 100, HistoryPolicy = policy };
        if (thinking)
        {
            options.Thinking = ThinkingOptions.Adaptive;
        }
        var (view, selection) = HistoryPlanner.SelectAsync(store, RandomLedger.Key, policy).GetAwaiter().GetResult();
        // After an open tool call the next message is its result; otherwise a new question.
        var openCall = view.Messages.Count > 0 ? view.Messages[^1].Message.Content.FirstOrDefault(b => b.ToolUse is not null)?.ToolUse : null;
        var next = openCall is null ? Message.User("and now?") : new Message(Role.User, [ContentBlock.CreateToolResult(openCall.Id, "and now?")]);
        PreparedRequest prepared;
        try
        {
            prepared = new RequestBuilder(options, SmallWindow).Build(view, selection, next, O200kTokenCounter.Instance.CountTokens(next));
        }
        catch (ContextBudgetExceededException ex)
        {
            Assert.Fail($"{policy}: {ex.Message}");
            return;
        }

        var messages = prepared.Request.Messages;
        var api = ConversationValidator.Validate(messages, ValidationOptions.ApiRequest);
        var strict = ConversationValidator.Validate(messages, ValidationOptions.StrictRequest);
        // After a cut, thinking may stay only in the tool loop the new message continues (with thinking on).
        var loopStart = thinking && !HistoryUnits.IsTurnStart(next)
            ? Math.Max(messages.Take(messages.Count - 1).ToList().FindLastIndex(HistoryUnits.IsTurnStart), 0)
            : messages.Count;
        var thinkingAfterCut = prepared.Selection.IsCut && messages.Take(loopStart).Any(m => m.Content.Any(b => b.IsThinking));
        var breakpoints = messages.Sum(m => m.Content.Count(b => b.HasCacheControl)) + prepared.Request.System.Count(b => b.HasCacheControl);
        Assert.True(api.Count == 0, $"{policy}: {string.Join("; ", api)}");
        Assert.True(strict.Count == 0, $"{policy}: {string.Join("; ", strict)}");
        Assert.False(thinkingAfterCut, $"{policy}: thinking blocks were sent after a cut");
        Assert.True(prepared.EstimatedInputTokens <= prepared.Budget, $"{policy}: {prepared.EstimatedInputTokens} > {prepared.Budget}");
        Assert.True(breakpoints <= 4, $"{policy}: {breakpoints} cache breakpoints");
        // The new message goes last (a summary may lead it when nothing of the window could be kept).
        Assert.Equal(next.Content[^1].Json, messages[^1].Content[^1].WithCacheControl(null).Json);
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public async Task A_windowed_read_touches_a_bounded_number_of_entries_however_long_the_thread(IHistoryPolicy policy)
    {
        var shortThread = await RandomLedger.BuildAsync(7, 20);
        var longThread = await RandomLedger.BuildAsync(7, 600);

        var shortRead = await shortThread.ReadWindowAsync(RandomLedger.Key, policy.Plan());
        var longRead = await longThread.ReadWindowAsync(RandomLedger.Key, policy.Plan());

        if (policy is KeepAllPolicy)
        {
            Assert.True(longRead.Entries.Count > shortRead.Entries.Count);
        }
        else
        {
            // Window + one step + pins + summary + system prompt + edits, never the thread.
            Assert.True(longRead.Entries.Count < 80, $"{policy} read {longRead.Entries.Count} entries of a 600-turn thread");
        }
    }
}
