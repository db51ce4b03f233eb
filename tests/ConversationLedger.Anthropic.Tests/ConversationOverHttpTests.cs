using ConversationLedger.Emulator;
using System.Text.Json;

namespace ConversationLedger.Anthropic.Tests;

public sealed class ConversationOverHttpTests(EmulatorFixture fixture) : IClassFixture<EmulatorFixture>, IDisposable
{
    public void Dispose() => fixture.Emulator.Reset();

    // Adaptive thinking on the default model (which refuses forced tool use), one tool, a 6-message window moving in steps of 4.
    private static LedgerOptions ThinkingAgentOptions() => new()
    {
        Policy = "window:6/4",
        MaxTokens = 2048,
        Thinking = ThinkingOptions.Adaptive,
        Tools = JsonDocument.Parse("""[{"name":"search","input_schema":{"type":"object"}}]""").RootElement,
    };

    private int _calls;

    // The model calls the search tool (a scripted reply; the emulator opens it with its own signed thinking).
    private Task<TurnResult> CallsToolAsync(Conversation chat, Message message)
    {
        fixture.Emulator.Script.Enqueue(new ScriptedReply([ContentBlock.CreateToolUse($"toolu_{Interlocked.Increment(ref _calls):D4}", "search")]));
        return chat.SendAsync(message);
    }

    private Ledger NewLedger(LedgerOptions? options = null) =>
        new(new InMemoryConversationStore(), fixture.Client(), options ?? new LedgerOptions { HistoryPolicy = KeepAllPolicy.Instance });

    [Fact]
    public async Task The_third_request_carries_all_five_earlier_messages()
    {
        var chat = NewLedger().Open(new ThreadKey("t", "s", "three-turns"));

        await chat.SendAsync("I'm building a REST API in Flask. What's the cleanest way to handle authentication?");
        await chat.SendAsync("I like the JWT approach. Show me the middleware implementation.");
        var third = await chat.SendAsync("How do I handle token refresh without logging the user out?");

        using var sent = JsonDocument.Parse(fixture.Emulator.Requests.Snapshot()[^1].Body);
        var messages = sent.RootElement.GetProperty("messages").EnumerateArray().ToList();
        // The guide's turn 3: user, assistant, user, assistant, and the new question.
        Assert.Equal(5, messages.Count);
        Assert.Equal(["user", "assistant", "user", "assistant", "user"], messages.Select(m => m.GetProperty("role").GetString()));
        Assert.Contains("Flask", messages[0].GetProperty("content")[0].GetProperty("text").GetString(), StringComparison.Ordinal);
        // The emulator's default reply says what it could see: statelessness, visible.
        Assert.Contains("5 messages", third.ReplyText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_stream_cut_by_the_server_stores_nothing_of_the_turn_and_logs_its_billed_usage()
    {
        var ledger = NewLedger();
        var chat = ledger.Open(new ThreadKey("t", "s", "cut"));
        await chat.SendAsync("first");
        var before = await ledger.Store.ReadEntriesAsync(chat.Key, 0, 1000);
        fixture.Emulator.Faults.Enqueue("cut:5");

        await Assert.ThrowsAsync<ModelCallException>(async () =>
        {
            await foreach (var _ in chat.StreamAsync("second"))
            {
            }
        });

        // Nothing of the turn; the call had started (message_start reported its usage), so it is in the usage log.
        var after = await ledger.Store.ReadEntriesAsync(chat.Key, 0, 1000);
        Assert.Equal(before, after.Take(before.Count));
        var billed = Assert.IsType<UsageEntry>(Assert.Single(after.Skip(before.Count)));
        Assert.Equal("interrupted", billed.Record.Uncommitted);
        Assert.True(billed.Record.Usage.InputTokens > 0);
    }

    [Fact]
    public async Task A_repeated_prefix_is_read_from_the_prompt_cache()
    {
        var chat = NewLedger(new LedgerOptions()).Open(new ThreadKey("t", "s", "cache"));
        await chat.SetSystemPromptAsync(string.Join(' ', Enumerable.Range(0, 1500).Select(i => $"rule{i}")));

        var first = await chat.SendAsync("hello");
        var second = await chat.SendAsync("and again");

        Assert.True(first.Usage.CacheCreationInputTokens > 0);
        Assert.True(second.Usage.CacheReadInputTokens >= first.Usage.CacheCreationInputTokens);
        Assert.True(second.CostUsd < first.CostUsd * 2);
    }

    [Fact]
    public async Task A_tool_round_trip_sends_the_definitions_every_turn_and_stores_the_call_with_its_result()
    {
        const string tools = """
            [{"name": "get_weather", "description": "Current weather for a city",
              "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]
            """;
        var ledger = NewLedger(new LedgerOptions { Tools = JsonDocument.Parse(tools).RootElement });
        var chat = ledger.Open(new ThreadKey("t", "s", "tools"));
        fixture.Emulator.Script.Enqueue(new ScriptedReply([
            ContentBlock.CreateText("Let me check."),
            ContentBlock.CreateToolUse("toolu_01", "get_weather", """{"city":"Oslo"}"""),
        ]));

        var call = await chat.SendAsync("What is the weather in Oslo?");
        var answer = await chat.SendAsync(new Message(Role.User, [ContentBlock.CreateToolResult("toolu_01", "12°C, cloudy")]));

        var wire = fixture.Emulator.Requests.Snapshot().Select(r => JsonDocument.Parse(r.Body).RootElement).ToList();
        Assert.Equal(2, wire.Count);
        Assert.All(wire, body => Assert.Equal("get_weather", body.GetProperty("tools")[0].GetProperty("name").GetString()));
        Assert.Equal("tool_use", call.StopReason);
        Assert.Equal(["user", "assistant", "user"], wire[1].GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("role").GetString()));
        Assert.Equal("end_turn", answer.StopReason);
        // The definitions count against the budget: the estimate includes them as the emulator's count does.
        Assert.True(answer.Request.Parts.Tools > 20);
        // The local count, scaled by the model's starting tokenizer factor, is what the model counts.
        Assert.Equal(answer.Usage.TotalInputTokens, TokenCalibration.Apply(answer.Request.Parts.Total, ModelCatalog.Default.Get(answer.Request.Request.Model).TokenFactor));
        var stored = (await chat.LoadAsync()).Messages.Select(m => m.Message).ToList();
        Assert.Equal(4, stored.Count);
        Assert.Empty(ConversationValidator.Validate(stored, ValidationOptions.StrictHistory));
    }

    [Fact]
    public async Task With_thinking_on_a_tool_loop_in_a_cut_history_passes_the_APIs_thinking_checks_on_every_call()
    {
        var store = new InMemoryConversationStore();
        var key = new ThreadKey("t", "s", "thinking-loop");
        var chat = new Ledger(store, fixture.Client(), ThinkingAgentOptions()).Open(key);
        for (var i = 0; i < 5; i++)
        {
            await chat.SendAsync($"question {i}");
        }

        // Now the model calls the tool on every turn: every reply is a signed thinking block and a call. The loop
        // outgrows the window's read; the emulator checks each thinking block against the prompt it was written for.
        var turn = await CallsToolAsync(chat, Message.User("Search until I stop you."));
        for (var i = 0; i < 10; i++)
        {
            var call = turn.Reply.Message.Content.Single(b => b.ToolUse is not null).ToolUse!;
            turn = await CallsToolAsync(chat, new Message(Role.User, [ContentBlock.CreateToolResult(call.Id, $"result {i}")]));
        }

        // The history was cut (older thinking had to go), yet the loop's replies kept theirs, signatures intact.
        var sent = turn.Request.Request.Messages;
        Assert.True(turn.Request.Selection.IsCut);
        Assert.Equal("Search until I stop you.", sent.Single(m => m.Content.Any(b => b.Text == "Search until I stop you.")).Content[^1].Text);
        Assert.All(sent.SkipWhile(m => m.Text != "Search until I stop you.").Where(m => m.Role == Role.Assistant), m => Assert.True(m.Content[0].IsThinking));
        Assert.DoesNotContain(sent.TakeWhile(m => m.Text != "Search until I stop you."), m => m.Content.Any(b => b.IsThinking));
    }

    [Fact]
    public async Task With_thinking_on_a_tool_loop_right_after_a_longer_one_passes_the_APIs_thinking_checks()
    {
        var store = new InMemoryConversationStore();
        var key = new ThreadKey("t", "s", "thinking-loops");
        var chat = new Ledger(store, fixture.Client(), ThinkingAgentOptions()).Open(key);
        async Task<TurnResult> LoopAsync(string question, int steps)
        {
            // The model calls the tool until the last result, whose reply ends the loop.
            var turn = await CallsToolAsync(chat, Message.User(question));
            for (var i = 0; i < steps; i++)
            {
                var call = turn.Reply.Message.Content.Single(b => b.ToolUse is not null).ToolUse!;
                var result = new Message(Role.User, [ContentBlock.CreateToolResult(call.Id, $"result {i}")]);
                turn = i == steps - 1 ? await chat.SendAsync(result) : await CallsToolAsync(chat, result);
            }
            return turn;
        }
        await chat.SendAsync("Hello.");

        await LoopAsync("Crawl the whole site.", 8); // longer than the window: the next question's window starts inside it
        var turn = await LoopAsync("Now check the links.", 3);

        Assert.Equal("end_turn", turn.StopReason);
        Assert.True(turn.Request.Selection.IsCut);
    }

    [Fact]
    public async Task With_thinking_on_a_pinned_first_loop_that_fills_the_gap_before_the_window_sends_no_stale_thinking()
    {
        var store = new InMemoryConversationStore();
        var key = new ThreadKey("t", "s", "thinking-pinned-loop");
        var chat = new Ledger(store, fixture.Client(), ThinkingAgentOptions()).Open(key);
        // The first exchange is a tool loop (pinned whole, as the first exchange is), longer than the window.
        var turn = await CallsToolAsync(chat, Message.User("Crawl the whole site."));
        for (var i = 0; i < 5; i++)
        {
            var call = turn.Reply.Message.Content.Single(b => b.ToolUse is not null).ToolUse!;
            var result = new Message(Role.User, [ContentBlock.CreateToolResult(call.Id, $"result {i}")]);
            turn = i == 4 ? await chat.SendAsync(result) : await CallsToolAsync(chat, result);
        }
        // This turn's window starts inside the loop (not pinned there yet: incomplete before the window), so its request is cut.
        var cut = await chat.SendAsync("Summarize what you found.");
        Assert.True(cut.Request.Selection.IsCut);

        // Now the pinned loop fills the whole gap before the window: nothing is omitted, yet the reply above was written
        // for the cut request, and its thinking would fail the API's signature check.
        var next = await chat.SendAsync("And what is left to do?");

        Assert.Empty(next.Request.Selection.Omitted);
        Assert.Equal("end_turn", next.StopReason);
    }

    [Theory]
    [InlineData("system prompt", "claude-haiku-5-5")] // takes no mid-conversation system messages: the top-level prompt changes
    [InlineData("edit", "claude-sonnet-5-5")]
    public async Task With_thinking_on_a_changed_system_prompt_or_an_edit_drops_the_thinking_written_before_it(string change, string model)
    {
        var chat = NewLedger(new LedgerOptions
        {
            Model = model,
            HistoryPolicy = KeepAllPolicy.Instance,
            MaxTokens = 2048,
            Thinking = ThinkingOptions.Adaptive,
        }).Open(new ThreadKey("t", "s", "thinking-" + change.Replace(' ', '-')));
        var first = await chat.SendAsync("My name is Hesham.");
        await chat.SendAsync("What should I build?");
        if (change == "edit")
        {
            await chat.EditAsync(first.User.Sequence, Message.User("My name is Hesham Ali."));
        }
        else
        {
            await chat.SetSystemPromptAsync("Answer in one sentence.");
        }

        // The replies so far were written for the prompt before the change; the API checks their thinking against it.
        var before = await chat.SendAsync("And how?");
        var after = await chat.SendAsync("And when?");

        Assert.DoesNotContain(before.Request.Request.Messages, m => m.Content.Any(b => b.IsThinking));
        Assert.True(after.Request.Request.Messages[^2].Content[0].IsThinking); // written after the change: kept
        Assert.Equal("end_turn", after.StopReason);
    }

    [Fact]
    public async Task On_a_model_that_takes_system_messages_a_prompt_change_is_sent_where_it_took_effect_and_keeps_the_cache_and_thinking_before_it()
    {
        var chat = NewLedger(new LedgerOptions { HistoryPolicy = KeepAllPolicy.Instance, MaxTokens = 2048 })
            .Open(new ThreadKey("t", "s", "system-message"));
        await chat.SetSystemPromptAsync(ScenarioPrompt);
        await chat.SendAsync("My name is Hesham.");
        var second = await chat.SendAsync("What should I build?");
        await chat.SetSystemPromptAsync("Answer in one sentence.");

        var changed = await chat.SendAsync("And how?");
        var next = await chat.SendAsync("And when?");

        // The first prompt stays on top; the new one follows the question of the turn it took effect at.
        var sent = next.Request.Request;
        Assert.Equal(ScenarioPrompt, sent.System.Single().Text);
        Assert.Equal(["user", "assistant", "user", "assistant", "user", "system", "assistant", "user"], sent.Messages.Select(m => m.Role.Value));
        Assert.Equal("Answer in one sentence.", sent.Messages[5].Text);
        // Default thinking on Sonnet 5.5 (display omitted): every reply's signed thinking went back and passed the API's checks.
        Assert.All(sent.Messages.Where(m => m.Role == Role.Assistant), m => Assert.True(m.Content[0].IsThinking));
        // The prefix before the change was read from the cache: all of the second turn's prompt, and the turn after.
        Assert.True(changed.Usage.CacheReadInputTokens >= second.Usage.TotalInputTokens - 1,
            $"{changed.Usage} after {second.Usage}");
        Assert.True(next.Usage.CacheReadInputTokens >= changed.Usage.TotalInputTokens - 1,
            $"{next.Usage} after {changed.Usage}");
    }

    [Theory]
    [InlineData("claude-sonnet-5-5", """{"type":"adaptive"}""", """{"effort":"medium"}""")]
    [InlineData("claude-opus-5-5", """{"type":"adaptive"}""", """{"effort":"medium"}""")]
    [InlineData("claude-sonnet-4-6", """{"type":"adaptive"}""", """{"effort":"medium"}""")]
    [InlineData("claude-haiku-4-5", """{"type":"enabled","budget_tokens":2048}""", null)] // budgets only, no effort: medium sizes the budget
    public async Task Adaptive_thinking_and_effort_are_sent_in_each_models_form_and_pass_its_checks_plain_and_streamed(string model, string thinking, string? outputConfig)
    {
        var chat = NewLedger(new LedgerOptions { Model = model, MaxTokens = 4096, Thinking = ThinkingOptions.Adaptive, Effort = "medium" })
            .Open(new ThreadKey("t", "families", model));
        await chat.SetSystemPromptAsync("You are terse.");
        var first = await chat.SendAsync("Hello.");
        await chat.SetSystemPromptAsync("You are terse and exact.");
        TurnResult? streamed = null;
        await foreach (var update in chat.StreamAsync("And again?"))
        {
            streamed = (update as TurnCommitted)?.Turn ?? streamed;
        }
        var last = await chat.SendAsync("Once more.");

        Assert.Equal(thinking, last.Request.Request.Thinking!.Value.GetRawText());
        Assert.Equal(outputConfig, last.Request.Request.OutputConfig?.GetRawText());
        Assert.All([first, streamed!, last], turn => Assert.True(turn.Reply.Message.Content[0].IsThinking));
        // Only Sonnet 5.5 takes the changed prompt as a system message; the others change the top-level prompt.
        Assert.Equal(model == "claude-sonnet-5-5", last.Request.Request.Messages.Any(m => m.Role == Role.System));
    }

    private static readonly string ScenarioPrompt = string.Join(' ', Enumerable.Range(1, 300).Select(i => $"rule{i}"));

    [Fact]
    public async Task A_streamed_tool_call_is_stored_with_its_input_exactly_as_a_plain_call_would_store_it()
    {
        var ledger = NewLedger(new LedgerOptions
        {
            Tools = JsonDocument.Parse("""[{"name":"get_weather","input_schema":{"type":"object"}}]""").RootElement,
        });
        var chat = ledger.Open(new ThreadKey("t", "s", "streamed-tool"));
        const string input = """{"city":"Oslo","units":"metric","days":[1,2,3],"note":"snow \"maybe\""}""";
        fixture.Emulator.Script.Enqueue(new ScriptedReply([ContentBlock.CreateText("Checking."), ContentBlock.CreateToolUse("toolu_07", "get_weather", input)]));

        TurnResult? turn = null;
        await foreach (var update in chat.StreamAsync("Weather in Oslo for three days?"))
        {
            turn = (update as TurnCommitted)?.Turn ?? turn;
        }

        var call = turn!.Reply.Message.Content.Single(b => b.ToolUse is not null).ToolUse!;
        Assert.Equal("toolu_07", call.Id);
        Assert.Equal(JsonDocument.Parse(input).RootElement.GetRawText(), call.Input.GetRawText());
        Assert.Equal("tool_use", turn.StopReason);
        // The loop goes on with the result, streamed too.
        await foreach (var _ in chat.StreamAsync(new Message(Role.User, [ContentBlock.CreateToolResult("toolu_07", "-2°C, snow")])))
        {
        }
        Assert.Equal(4, (await chat.LoadAsync()).Messages.Count);
    }

    [Fact]
    public async Task A_streamed_reply_is_stored_as_the_same_JSON_text_as_a_plain_one()
    {
        var ledger = NewLedger(new LedgerOptions
        {
            Tools = JsonDocument.Parse("""[{"name":"note","input_schema":{"type":"object"}}]""").RootElement,
        });
        ScriptedReply Reply() => new([
            ContentBlock.CreateText("Café, naïve \"quotes\" <tags> & emoji 🙂 — done."),
            ContentBlock.CreateToolUse("toolu_09", "note", """{"text":"Smørrebrød \"i\" 🙂"}"""),
        ]);
        fixture.Emulator.Script.Enqueue(Reply());
        fixture.Emulator.Script.Enqueue(Reply());

        var plain = await ledger.Open(new ThreadKey("t", "s", "plain")).SendAsync("write it");
        TurnResult? streamed = null;
        await foreach (var update in ledger.Open(new ThreadKey("t", "s", "streamed")).StreamAsync("write it"))
        {
            streamed = (update as TurnCommitted)?.Turn ?? streamed;
        }

        Assert.Equal(plain.Reply.Message.ToJson(), streamed!.Reply.Message.ToJson());
    }
}
