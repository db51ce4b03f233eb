using ConversationLedger.Tests.TestSupport;

namespace ConversationLedger.Tests.Conversations;

public sealed class SystemPromptTests
{
    [Fact]
    public async Task A_system_prompt_set_before_any_turn_takes_effect_at_turn_one()
    {
        var t = new TestLedger();

        await t.Conversation.SetSystemPromptAsync("Be concise.");

        var entry = Assert.IsType<SystemPromptEntry>(Assert.Single(await t.EntriesAsync()));
        Assert.Equal("Be concise.", entry.Text);
        Assert.Equal(1, entry.EffectiveTurn);
    }

    [Fact]
    public async Task A_changed_system_prompt_is_recorded_with_the_turn_it_takes_effect_at()
    {
        var t = new TestLedger();
        await t.Conversation.SetSystemPromptAsync("Be concise.");
        await t.Conversation.SendAsync("One");
        await t.Conversation.SendAsync("Two");

        await t.Conversation.SetSystemPromptAsync("Be thorough.");

        var entry = Assert.IsType<SystemPromptEntry>((await t.EntriesAsync())[^1]);
        Assert.Equal("Be thorough.", entry.Text);
        Assert.Equal(3, entry.EffectiveTurn);
    }

    [Fact]
    public async Task An_unchanged_system_prompt_records_nothing()
    {
        var t = new TestLedger();
        await t.Conversation.SetSystemPromptAsync("Be concise.");
        await t.Conversation.SendAsync("One");
        var before = await t.EntriesAsync();

        await t.Conversation.SetSystemPromptAsync("Be concise.");

        Assert.Equal(before, await t.EntriesAsync());
    }

    [Fact]
    public async Task Clearing_a_prompt_that_was_never_set_records_nothing()
    {
        var t = new TestLedger();

        await t.Conversation.SetSystemPromptAsync("");

        Assert.Empty(await t.EntriesAsync());
    }

    [Fact]
    public async Task A_new_system_prompt_applies_from_the_next_request_on()
    {
        var options = TestLedger.PlainLoop();
        options.Model = "claude-haiku-4-5"; // takes no mid-conversation system messages: the top-level prompt changes
        var t = new TestLedger(options);
        await t.Conversation.SetSystemPromptAsync("Be concise.");
        await t.Conversation.SendAsync("One");

        await t.Conversation.SetSystemPromptAsync("Be thorough.");
        await t.Conversation.SendAsync("Two");

        var requests = t.Model.Requests.ToArray();
        Assert.Equal("Be concise.", Assert.Single(requests[0].System).Text);
        Assert.Equal("Be thorough.", Assert.Single(requests[1].System).Text);
        Assert.Equal(3, requests[1].Messages.Count);
    }

    [Fact]
    public async Task On_a_model_that_takes_system_messages_a_changed_prompt_follows_the_question_of_the_turn_it_took_effect_at()
    {
        var t = new TestLedger(); // claude-sonnet-5-5
        await t.Conversation.SetSystemPromptAsync("Be concise.");
        await t.Conversation.SendAsync("One");
        await t.Conversation.SetSystemPromptAsync("Be thorough.");

        await t.Conversation.SendAsync("Two");
        await t.Conversation.SendAsync("Three");

        var requests = t.Model.Requests.ToArray();
        // The prompt the earlier turns were sent with stays on top, so the prefix before the change is unchanged.
        Assert.All(requests, r => Assert.Equal("Be concise.", Assert.Single(r.System).Text));
        Assert.Equal(["user", "assistant", "user", "system"], requests[1].Messages.Select(m => m.Role.Value));
        Assert.Equal(["user", "assistant", "user", "system", "assistant", "user"], requests[2].Messages.Select(m => m.Role.Value));
        Assert.Equal("Be thorough.", requests[2].Messages[3].Text);
        Assert.Equal(requests[1].Messages.Take(4), requests[2].Messages.Take(4));
        // The ledger keeps strict alternation: the system message is not stored as a turn.
        Assert.Equal(6, (await t.Conversation.LoadAsync()).Messages.Count);
    }

    [Fact]
    public async Task A_prompt_that_extends_the_one_before_it_sends_only_what_was_added()
    {
        var t = new TestLedger();
        await t.Conversation.SetSystemPromptAsync("Be concise.");
        await t.Conversation.SendAsync("One");
        await t.Conversation.SetSystemPromptAsync("Be concise.\nUse British English.");

        await t.Conversation.SendAsync("Two");

        var request = t.Model.Requests.ToArray()[^1];
        Assert.Equal("Be concise.", Assert.Single(request.System).Text);
        Assert.Equal((Role.System, "Use British English."), (request.Messages[^1].Role, request.Messages[^1].Text));
    }

    [Fact]
    public async Task Once_the_window_has_moved_past_a_change_the_new_prompt_goes_on_top()
    {
        var options = TestLedger.PlainLoop();
        options.HistoryPolicy = HistoryPolicies.Parse("window:2");
        var t = new TestLedger(options);
        await t.Conversation.SetSystemPromptAsync("Be concise.");
        await t.Conversation.SendAsync("One");
        await t.Conversation.SetSystemPromptAsync("Be thorough.");
        await t.Conversation.SendAsync("Two"); // the window still holds "One": sent as a system message

        await t.Conversation.SendAsync("Three"); // the window holds "Two" on: the change is history

        Assert.Contains(t.Model.Requests.ToArray()[^2].Messages, m => m.Role == Role.System);
        Assert.Equal("Be thorough.", Assert.Single(t.Model.Requests.ToArray()[^1].System).Text);
        Assert.DoesNotContain(t.Model.Requests.ToArray()[^1].Messages, m => m.Role == Role.System);
    }

    [Fact]
    public async Task An_empty_system_prompt_clears_it_from_later_requests()
    {
        var t = new TestLedger();
        await t.Conversation.SetSystemPromptAsync("Be concise.");

        await t.Conversation.SetSystemPromptAsync("");
        await t.Conversation.SendAsync("One");

        Assert.Equal(2, (await t.EntriesAsync()).OfType<SystemPromptEntry>().Count());
        Assert.Empty(Assert.Single(t.Model.Requests).System);
        Assert.Null((await t.Conversation.LoadAsync()).SystemPrompt);
    }

    [Fact]
    public async Task Set_system_prompt_guards_against_null()
    {
        var t = new TestLedger();

        await Assert.ThrowsAsync<ArgumentNullException>("text", () => t.Conversation.SetSystemPromptAsync(null!));
    }
}
