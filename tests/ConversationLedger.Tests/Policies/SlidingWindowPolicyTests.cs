namespace ConversationLedger.Tests.Policies;

public sealed class SlidingWindowPolicyTests
{
    private static readonly ThreadKey Key = new("tenant", "scope", "agent");

    // Two plain turns, then a question answered after two tool calls: six messages that can only be sent together.
    private static async Task<InMemoryConversationStore> ThreadEndingInAToolLoopAsync()
    {
        var store = new InMemoryConversationStore();
        Message[] messages =
        [
            Message.User("hello"), Message.Assistant("hi"),
            Message.User("how are you"), Message.Assistant("fine"),
            Message.User("what is the weather in Paris and Rome?"),
            new(Role.Assistant, [ContentBlock.CreateToolUse("toolu_1", "weather", "{\"city\":\"Paris\"}")]),
            new(Role.User, [ContentBlock.CreateToolResult("toolu_1", "18C")]),
            new(Role.Assistant, [ContentBlock.CreateToolUse("toolu_2", "weather", "{\"city\":\"Rome\"}")]),
            new(Role.User, [ContentBlock.CreateToolResult("toolu_2", "24C")]),
            Message.Assistant("Paris 18C, Rome 24C"),
        ];
        long head = 0;
        foreach (var pair in messages.Chunk(2))
        {
            var entries = pair.Select(m => (LedgerEntry)new MessageEntry(m) { Tokens = O200kTokenCounter.Instance.CountTokens(m) }).ToArray();
            head = (await store.AppendAsync(Key, head, entries)).Head.LastSequence;
        }
        return store;
    }

    private static async Task<HistorySelection> SelectAsync(InMemoryConversationStore store, IHistoryPolicy policy) =>
        policy.Select(ConversationView.Project(await store.ReadWindowAsync(Key, policy.Plan())));

    [Fact]
    public async Task A_tool_loop_longer_than_the_window_is_sent_whole_from_its_question_rather_than_dropped()
    {
        var store = await ThreadEndingInAToolLoopAsync();

        var selection = await SelectAsync(store, SlidingWindowPolicy.TruncateOldest(messages: 5));

        Assert.Equal(6, selection.Window.Count);
        Assert.Equal("what is the weather in Paris and Rome?", selection.Window[0].Message.Text);
        var omitted = Assert.Single(selection.Omitted);
        Assert.Equal(4, omitted.Messages);
        Assert.Empty(ConversationValidator.Validate([.. selection.Messages.Select(m => m.Message), Message.User("and now?")], ValidationOptions.StrictRequest));
    }

    [Fact]
    public async Task A_window_cut_inside_a_plain_exchange_moves_forward_to_the_next_question()
    {
        var store = await ThreadEndingInAToolLoopAsync();

        var selection = await SelectAsync(store, SlidingWindowPolicy.TruncateOldest(messages: 7));

        Assert.Equal("what is the weather in Paris and Rome?", selection.Window[0].Message.Text);
        Assert.Equal(6, selection.Window.Count);
    }

    [Fact]
    public async Task When_the_rows_read_hold_no_question_the_window_starts_inside_the_loop_led_by_a_note()
    {
        var store = await ThreadEndingInAToolLoopAsync();
        var policy = SlidingWindowPolicy.TruncateOldest(messages: 3);
        var view = ConversationView.Project(await store.ReadWindowAsync(Key, policy.Plan()));

        var selection = policy.Select(view);
        var request = new RequestBuilder(new LedgerOptions()).Build(view, selection, Message.User("thanks"), 2).Request;

        Assert.Equal(["toolu_2", "toolu_2", "Paris 18C, Rome 24C"], selection.Window.Select(m => m.Message.Content[0].ToolUse?.Id ?? m.Message.Content[0].ToolResultFor ?? m.Message.Text));
        Assert.Equal(7, Assert.Single(selection.Omitted).Messages);
        Assert.StartsWith("<conversation-omitted through-entry=\"7\">", request.Messages[0].Text, StringComparison.Ordinal);
        Assert.Equal(5, request.Messages.Count);
        Assert.Empty(ConversationValidator.Validate(request.Messages, ValidationOptions.StrictRequest));
    }
}
