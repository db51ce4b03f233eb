using Microsoft.Extensions.AI;

namespace ConversationLedger.Extensions.AI.Tests;

public sealed class HistoryPolicyChatReducerTests
{
    [Fact]
    public async Task A_window_policy_keeps_the_system_message_and_the_newest_whole_turns()
    {
        List<ChatMessage> history = [new(ChatRole.System, "Be terse.")];
        for (var i = 1; i <= 10; i++)
        {
            history.Add(new ChatMessage(ChatRole.User, $"question {i}"));
            history.Add(new ChatMessage(ChatRole.Assistant, $"answer {i}"));
        }
        history.Add(new ChatMessage(ChatRole.User, "question 11"));

        var reduced = (await new HistoryPolicyChatReducer(HistoryPolicies.Parse("truncate:5")).ReduceAsync(history, default)).ToList();

        Assert.Same(history[0], reduced[0]);
        Assert.Equal(ChatRole.User, reduced[1].Role);
        Assert.Same(history[^1], reduced[^1]);
        Assert.True(reduced.Count <= 6);
    }

    [Fact]
    public async Task A_tool_call_is_never_kept_without_its_result()
    {
        List<ChatMessage> history =
        [
            new(ChatRole.User, "look it up"),
            new(ChatRole.Assistant, [new FunctionCallContent("call_1", "lookup", new Dictionary<string, object?> { ["q"] = "x" })]),
            new(ChatRole.Tool, [new FunctionResultContent("call_1", "found")]),
            new(ChatRole.Assistant, "it is found"),
            new(ChatRole.User, "thanks"),
        ];

        var reduced = (await new HistoryPolicyChatReducer(HistoryPolicies.Parse("truncate:2")).ReduceAsync(history, default)).ToList();

        Assert.DoesNotContain(reduced, m => m.Contents.OfType<FunctionResultContent>().Any() && !reduced.Any(c => c.Contents.OfType<FunctionCallContent>().Any()));
        Assert.Equal(ChatRole.User, reduced[0].Role);
    }
}
