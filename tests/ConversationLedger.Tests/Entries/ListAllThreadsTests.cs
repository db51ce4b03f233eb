namespace ConversationLedger.Tests.Entries;

public sealed class ListAllThreadsTests
{
    [Fact]
    public async Task ListAllThreadsAsync_reads_past_the_first_page_and_only_the_scope_asked_for()
    {
        var store = new InMemoryConversationStore();
        for (var i = 0; i < PageRequest.MaxLimit + 5; i++)
        {
            await store.AppendAsync(new ThreadKey("acme", "big", $"t{i}"), 0, [new MessageEntry(Message.User("hi"))]);
        }
        await store.AppendAsync(new ThreadKey("acme", "other", "elsewhere"), 0, [new MessageEntry(Message.User("hi"))]);

        var threads = new List<ThreadHead>();
        await foreach (var head in store.ListAllThreadsAsync("acme", "big"))
        {
            threads.Add(head);
        }

        Assert.Equal(PageRequest.MaxLimit + 5, threads.Select(t => t.Key.ThreadId).Distinct().Count());
        Assert.All(threads, t => Assert.Equal("big", t.Key.Scope));
    }
}
