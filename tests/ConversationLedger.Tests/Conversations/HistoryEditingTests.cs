using ConversationLedger.Tests.TestSupport;
using static ConversationLedger.Tests.TestSupport.Build;

namespace ConversationLedger.Tests.Conversations;

public sealed class HistoryEditingTests
{
    private static async Task<TestLedger> TwoTurnsAsync([System.Runtime.CompilerServices.CallerMemberName] string thread = "")
    {
        var t = new TestLedger(thread: thread);
        await t.Conversation.SendAsync("One");   // entries 1 user, 2 reply, 3 usage
        await t.Conversation.SendAsync("Two");   // entries 4 user, 5 reply, 6 usage
        return t;
    }

    [Fact]
    public async Task Reset_starts_the_next_request_afresh()
    {
        var t = await TwoTurnsAsync();

        await t.Conversation.ResetAsync("new topic");
        var turn = await t.Conversation.SendAsync("Three");

        Assert.Equal([User("Three")], t.Model.Requests.Last().Messages);
        Assert.Equal(1, turn.MessagesSent);
    }

    [Fact]
    public async Task Reset_keeps_the_archive_readable()
    {
        var t = await TwoTurnsAsync();
        var before = await t.EntriesAsync();

        await t.Conversation.ResetAsync("new topic");

        var after = await t.EntriesAsync();
        Assert.Equal(before, after.Take(before.Count));
        var reset = Assert.IsType<ResetEntry>(after[^1]);
        Assert.Equal("new topic", reset.Reason);
        Assert.Equal(7, reset.Sequence);
        Assert.Empty((await t.Conversation.LoadAsync()).Messages);
    }

    [Fact]
    public async Task Reset_keeps_the_system_prompt()
    {
        var t = await TwoTurnsAsync();
        await t.Conversation.SetSystemPromptAsync("Be brief.");

        await t.Conversation.ResetAsync();
        await t.Conversation.SendAsync("Three");

        Assert.Equal("Be brief.", Assert.Single(t.Model.Requests.Last().System).Text);
    }

    [Fact]
    public async Task Pin_marks_the_whole_turn_as_pinned_and_unpin_clears_it()
    {
        var t = await TwoTurnsAsync();

        await t.Conversation.PinAsync(1);
        var pinned = await t.Conversation.LoadAsync();
        await t.Conversation.UnpinAsync(2);
        var unpinned = await t.Conversation.LoadAsync();

        // Pinning the question pins its answer too: a lone pinned message would break alternation when sent.
        Assert.Equal([1L, 2L], pinned.Messages.Where(m => m.Pinned).Select(m => m.Sequence));
        Assert.DoesNotContain(unpinned.Messages, m => m.Pinned);
        Assert.Equal([new PinEntry(1, true), new PinEntry(2, true), new PinEntry(1, false), new PinEntry(2, false)],
            (await t.EntriesAsync()).OfType<PinEntry>().Select(p => new PinEntry(p.Target, p.Pinned)));
    }

    [Theory]
    [InlineData(3)]  // the usage entry of turn one, not a message
    [InlineData(99)] // no such entry
    public async Task Pin_refuses_an_entry_that_is_not_a_current_message(long sequence)
    {
        var t = await TwoTurnsAsync();
        var before = await t.EntriesAsync();

        await Assert.ThrowsAsync<LedgerNotFoundException>(() => t.Conversation.PinAsync(sequence));

        Assert.Equal(before, await t.EntriesAsync());
    }

    [Fact]
    public async Task Pin_refuses_a_message_from_before_the_newest_reset()
    {
        var t = await TwoTurnsAsync();
        await t.Conversation.ResetAsync();

        await Assert.ThrowsAsync<LedgerNotFoundException>(() => t.Conversation.PinAsync(1));
    }

    [Fact]
    public async Task Edit_replaces_the_message_in_later_requests_and_keeps_the_original_in_the_ledger()
    {
        var t = await TwoTurnsAsync();

        await t.Conversation.EditAsync(4, User("Two, rephrased"));
        await t.Conversation.SendAsync("Three");

        Assert.Equal(User("Two, rephrased"), t.Model.Requests.Last().Messages[2]);
        var view = await t.Conversation.LoadAsync();
        Assert.True(view.Messages[2].Edited);
        Assert.Equal(4, view.Messages[2].Sequence);
        Assert.Equal(User("Two"), Assert.IsType<MessageEntry>((await t.EntriesAsync())[3]).Message);
    }

    [Fact]
    public async Task An_edited_message_counts_with_its_new_size_in_the_budget_even_after_a_restart()
    {
        var t = await TwoTurnsAsync();
        var before = (await t.Conversation.PreviewAsync(User("Three"))).Parts.Window;

        await t.Conversation.EditAsync(4, User("Two, " + string.Join(' ', Enumerable.Repeat("much longer", 400))));

        // A new ledger over the same store (as after a restart) sees the replacement's size, not the original's.
        var reopened = new ConversationLedger.Ledger(t.Store, t.Model, t.Ledger.Options).Open(t.Conversation.Key);
        var after = await reopened.PreviewAsync(User("Three"));
        var edited = (await reopened.LoadAsync()).Messages[2];
        Assert.Equal(t.Ledger.TokenCounter.CountTokens(edited.Message), edited.Tokens);
        Assert.True(after.Parts.Window > before + 300, $"window {before} → {after.Parts.Window} tokens");
    }

    [Fact]
    public async Task Edit_refuses_a_role_change_that_breaks_alternation()
    {
        var t = await TwoTurnsAsync();
        var before = await t.EntriesAsync();

        var ex = await Assert.ThrowsAsync<LedgerValidationException>(() => t.Conversation.EditAsync(4, Assistant("Now I am the assistant")));

        Assert.Contains(ex.Violations, v => v.Rule == ValidationRule.RolesNotAlternating && v.MessageIndex == 2);
        Assert.Equal(before, await t.EntriesAsync());
    }

    [Fact]
    public async Task Edit_refuses_a_replacement_that_breaks_an_api_rule()
    {
        var t = await TwoTurnsAsync();

        var ex = await Assert.ThrowsAsync<LedgerValidationException>(() => t.Conversation.EditAsync(2, Assistant("   ")));

        var violation = Assert.Single(ex.Violations);
        Assert.Equal(ValidationRule.WhitespaceText, violation.Rule);
        Assert.Equal(1, violation.MessageIndex);
    }

    [Fact]
    public async Task Edit_refuses_an_entry_that_is_not_a_current_message()
    {
        var t = await TwoTurnsAsync();

        await Assert.ThrowsAsync<LedgerNotFoundException>(() => t.Conversation.EditAsync(6, User("x")));
    }

    [Fact]
    public async Task The_newest_edit_of_a_message_wins()
    {
        var t = await TwoTurnsAsync();

        await t.Conversation.EditAsync(1, User("first edit"));
        await t.Conversation.EditAsync(1, User("second edit"));

        Assert.Equal(User("second edit"), (await t.MessagesAsync())[0]);
    }

    [Fact]
    public async Task Fork_copies_the_conversation_and_then_goes_its_own_way()
    {
        var t = await TwoTurnsAsync();
        var forkKey = new ThreadKey("tenant-a", "scope-1", "fork");

        var fork = await t.Conversation.ForkAsync(forkKey);
        await fork.SendAsync("Only in the fork");

        Assert.Equal(4, (await t.MessagesAsync()).Count);
        var forked = (await fork.LoadAsync()).AsMessages();
        Assert.Equal(6, forked.Count);
        Assert.Equal(await t.MessagesAsync(), forked.Take(4));
        var forkEntry = Assert.IsType<ForkEntry>((await t.Store.ReadEntriesAsync(forkKey, 0, 100))[6]);
        Assert.Equal(t.Key, forkEntry.Parent);
        Assert.Equal(6, forkEntry.AtSequence);
    }

    [Fact]
    public async Task Fork_at_an_earlier_entry_takes_only_the_history_up_to_it()
    {
        var t = await TwoTurnsAsync();

        var fork = await t.Conversation.ForkAsync(new ThreadKey("tenant-a", "scope-1", "fork"), atSequence: 3);
        await fork.SendAsync("Another second question");

        Assert.Equal([User("One"), Assistant("reply 1"), User("Another second question")], t.Model.Requests.Last().Messages);
    }

    [Fact]
    public async Task Fork_at_a_question_without_its_answer_is_refused_and_creates_nothing()
    {
        var t = await TwoTurnsAsync();
        var forkKey = new ThreadKey("tenant-a", "scope-1", "fork");

        // Entry 4 is the question "Two"; its reply is entry 5. A fork there could never send another turn.
        var error = await Assert.ThrowsAsync<LedgerException>(() => t.Conversation.ForkAsync(forkKey, atSequence: 4));

        Assert.Contains("entry 4", error.Message, StringComparison.Ordinal);
        Assert.False((await t.Store.GetHeadAsync(forkKey)).Exists);
    }

    [Fact]
    public async Task Fork_refuses_a_target_thread_that_already_exists()
    {
        var t = await TwoTurnsAsync();
        var existing = t.Ledger.Open(new ThreadKey("tenant-a", "scope-1", "existing"));
        await existing.SendAsync("Hi");

        await Assert.ThrowsAsync<ConcurrencyConflictException>(() => t.Conversation.ForkAsync(existing.Key));

        Assert.Equal(2, (await existing.LoadAsync()).Messages.Count);
    }
}
