using System.Text.Json.Nodes;
using ConversationLedger.Tests.TestSupport;
using static ConversationLedger.Tests.TestSupport.Build;

namespace ConversationLedger.Tests.Policies;

public sealed class PolicyLoopTests
{
    private static readonly ModelCatalog Models = new(
    [
        new ModelInfo { Id = "small", ContextWindow = 2000, MaxOutput = 1000, InputPerMTok = 3, OutputPerMTok = 15 },
        new ModelInfo { Id = "claude-sonnet-5-5", ContextWindow = 1_000_000, MaxOutput = 128_000, InputPerMTok = 2, OutputPerMTok = 10 },
    ]);

    private static LedgerOptions Options(IHistoryPolicy? policy = null, string model = "claude-sonnet-5-5") => new()
    {
        Model = model,
        MaxTokens = 200,
        SafetyMarginTokens = 100,
        HistoryPolicy = policy ?? LedgerOptions.DefaultPolicy,
    };

    private static LedgerServices Services(double learningRate = 0) => new()
    {
        Models = Models,
        TokenCounter = CharacterTokenCounter.Instance,
        Calibration = new TokenCalibration { LearningRate = learningRate }, // the fake's usage figures are not real counts
    };

    [Fact]
    public async Task The_first_exchange_is_pinned_in_the_same_commit_as_the_turn()
    {
        var t = new TestLedger(Options(), Services());

        var turn = await t.Conversation.SendAsync("My name is Hesham.");

        var entries = await t.EntriesAsync();
        Assert.Equal([turn.User.Sequence, turn.Reply.Sequence], entries.OfType<PinEntry>().Select(p => p.Target));
        Assert.All(entries, e => Assert.Equal(turn.TurnId, e.TurnId));
        Assert.All((await t.Conversation.LoadAsync()).Messages, m => Assert.True(m.Pinned));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(8)]
    public async Task Pinned_turns_are_sent_ahead_of_the_window_however_far_it_has_moved(int step)
    {
        var t = new TestLedger(Options(new SlidingWindowPolicy(new SlidingWindowOptions { Messages = 6, MessageStep = step })), Services());
        TurnResult? last = null;
        for (var i = 1; i <= 25; i++)
        {
            last = await t.Conversation.SendAsync($"q{i}");
            if (i == 7)
            {
                await t.Conversation.PinAsync(last.Reply.Sequence); // pins the whole turn
            }
        }

        var texts = last!.Request.Request.Messages.Select(m => m.Text).ToList();
        Assert.Equal(["q1", "reply 1", "q7", "reply 7"], texts.Take(4));
        Assert.Equal("q25", texts[^1]);
    }

    [Fact]
    public async Task A_turn_that_nearly_fills_the_window_warns_before_the_model_is_called()
    {
        var t = new TestLedger(Options(model: "small"), Services());
        var callsWhenWarned = -1;

        await foreach (var update in t.Conversation.StreamAsync(new string('x', 6500)))
        {
            if (update is TurnContextWarning warning)
            {
                callsWhenWarned = t.Model.Calls;
                Assert.True(warning.Request.Fill >= 0.8, $"fill {warning.Request.Fill}");
            }
        }

        Assert.Equal(0, callsWhenWarned);
        var sent = await t.Conversation.SendAsync(new string('y', 6500));
        Assert.True(sent.ContextWarning);
    }

    [Fact]
    public async Task A_request_that_cannot_fit_is_never_sent_and_nothing_is_stored()
    {
        var t = new TestLedger(Options(model: "small"), Services());
        await t.Conversation.SendAsync("hello");
        var before = await t.EntriesAsync();

        var error = await Assert.ThrowsAsync<ContextBudgetExceededException>(() => t.Conversation.SendAsync(new string('z', 20_000)));

        Assert.Equal(1, t.Model.Calls);
        Assert.Equal(before, await t.EntriesAsync());
        Assert.True(error.RequestTokens > error.BudgetTokens);
        Assert.Contains("over", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Older_turns_are_dropped_whole_to_fit_the_budget()
    {
        var t = new TestLedger(Options(KeepAllPolicy.Instance, model: "small"), Services());
        for (var i = 0; i < 6; i++)
        {
            await t.Conversation.SendAsync($"turn {i} " + new string('w', 1500));
        }

        var turn = await t.Conversation.SendAsync("last");

        Assert.True(turn.Request.EstimatedInputTokens <= turn.Request.Budget);
        Assert.Contains(turn.Request.Selection.Omitted, o => o.Reason.Contains("budget", StringComparison.Ordinal));
        Assert.Empty(ConversationValidator.Validate(turn.Request.Request.Messages, ValidationOptions.StrictRequest));
    }

    [Fact]
    public async Task A_failed_summary_leaves_the_ledger_unchanged_and_the_turn_goes_ahead()
    {
        var policy = new SummarizingPolicy(new SlidingWindowPolicy(new SlidingWindowOptions { Messages = 4, MessageStep = 2 }));
        var t = new TestLedger(Options(policy), Services());
        t.Model.SendAsyncCallback = (request, _) => IsSummaryRequest(request)
            ? throw new ModelCallException("overloaded", 529, "overloaded_error", "req_sum")
            : Task.FromResult(FakeModel.Respond("answer"));
        var turns = new List<TurnResult>();
        for (var i = 0; i < 12; i++)
        {
            turns.Add(await t.Conversation.SendAsync($"question {i}"));
        }

        var entries = await t.EntriesAsync();
        Assert.Empty(entries.OfType<SummaryEntry>());
        Assert.Equal(12, entries.OfType<UsageEntry>().Count()); // one per turn, none for the failed summaries
        // Each failure is said once, on its turn, with its reason and how long the thread now waits.
        var failed = turns.Where(turn => turn.SummaryError is not null).ToList();
        Assert.Contains("overloaded", failed[0].SummaryError, StringComparison.Ordinal);
        Assert.EndsWith("(the next 1 turn will not try again)", failed[0].SummaryError, StringComparison.Ordinal);
        Assert.EndsWith("(the next 2 turns will not try again)", failed[1].SummaryError, StringComparison.Ordinal);
        // Backed off: fewer summary calls than turns that wanted one.
        var summaryCalls = t.Model.Requests.Count(IsSummaryRequest);
        Assert.Equal(failed.Count, summaryCalls);
        Assert.True(summaryCalls < turns.Count(turn => turn.Request.Selection.Omitted.Count > 0), $"{summaryCalls} summary calls");
    }

    [Fact]
    public async Task A_backlog_longer_than_a_summary_request_is_summarized_in_pieces_that_each_fit()
    {
        var policy = new SummarizingPolicy(new SlidingWindowPolicy(new SlidingWindowOptions { Messages = 4, MessageStep = 2 }));
        var t = new TestLedger(Options(policy), Services());
        // An imported backlog: 60 messages of ~5,000 tokens each, 300,000 tokens in all (a piece carries at most 100,000).
        var big = string.Join(' ', Enumerable.Range(0, 5000).Select(i => $"w{i % 97}"));
        var backlog = Enumerable.Range(0, 60).Select(i => (LedgerEntry)new MessageEntry(i % 2 == 0 ? Message.User(big) : Message.Assistant(big)) { Tokens = 5000 }).ToArray();
        await t.Store.AppendAsync(t.Key, 0, backlog);

        var turn = await t.Conversation.SendAsync("and now?");

        var pieces = t.Model.Requests.Where(IsSummaryRequest).ToList();
        Assert.True(pieces.Count >= 3, $"{pieces.Count} summary requests");
        // Measured by the counter the ledger was given: it fits pieces with that one, never with another behind its back.
        Assert.All(pieces, r => Assert.True(t.Ledger.TokenCounter.CountTokens(r) <= 110_000, $"{t.Ledger.TokenCounter.CountTokens(r)} tokens"));
        // Each piece was folded into the running summary, stored as it came; the newest covers the whole backlog.
        var summaries = (await t.EntriesAsync()).OfType<SummaryEntry>().ToList();
        Assert.Equal(pieces.Count, summaries.Count);
        Assert.All(summaries, s => Assert.Equal(1, s.FromSequence));
        Assert.Equal(turn.Request.Selection.Window[0].Sequence - 1, summaries[^1].ThroughSequence);
        Assert.Null(turn.SummaryError);
    }

    [Fact]
    public async Task A_turn_whose_model_call_fails_after_its_summary_leaves_the_summary_and_its_usage_and_nothing_of_the_turn()
    {
        // Given a thread long enough that the next turn first has a summary written
        var policy = new SummarizingPolicy(new SlidingWindowPolicy(new SlidingWindowOptions { Messages = 4, MessageStep = 2 }));
        var t = new TestLedger(Options(policy), Services());
        for (var i = 0; i < 4; i++)
        {
            await t.Conversation.SendAsync($"question {i}");
        }
        var before = await t.EntriesAsync();
        Assert.Empty(before.OfType<SummaryEntry>());
        t.Model.SendAsyncCallback = (request, _) => IsSummaryRequest(request)
            ? Task.FromResult(FakeModel.Respond("- the user asked four questions"))
            : throw new ModelCallException("overloaded", 529, "overloaded_error", "req_turn");

        // When the summary succeeds and then the turn's own call fails
        await Assert.ThrowsAsync<ModelCallException>(() => t.Conversation.SendAsync("question 4"));

        // Then the summary and its usage are stored (paid for, and reused by the next turn), and nothing of the turn
        var added = (await t.EntriesAsync()).Skip(before.Count).ToList();
        Assert.Equal([EntryKind.Summary, EntryKind.Usage], added.Select(e => e.Kind));
        Assert.Equal(added[0].TurnId, added[1].TurnId);
        Assert.DoesNotContain(added, e => e is MessageEntry);
        Assert.Equal(before.OfType<MessageEntry>().Count(), (await t.EntriesAsync()).OfType<MessageEntry>().Count());

        // And the next turn uses that summary instead of paying for another
        t.Model.SendAsyncCallback = (request, _) => Task.FromResult(FakeModel.Respond(IsSummaryRequest(request) ? "- again" : "answer"));
        var summaries = t.Model.Requests.Count(IsSummaryRequest);
        await t.Conversation.SendAsync("question 4");
        Assert.Equal(summaries, t.Model.Requests.Count(IsSummaryRequest));
        Assert.Single((await t.EntriesAsync()).OfType<SummaryEntry>());
    }

    [Fact]
    public async Task Dropped_messages_are_summarized_once_per_step_and_the_summary_leads_the_window()
    {
        var policy = new SummarizingPolicy(new SlidingWindowPolicy(new SlidingWindowOptions { Messages = 4, MessageStep = 2 }));
        var t = new TestLedger(Options(policy), Services());
        await t.Conversation.SetSystemPromptAsync("Be brief.");
        t.Model.SendAsyncCallback = (request, _) => Task.FromResult(FakeModel.Respond(
            IsSummaryRequest(request) ? "- The user is Hesham; error E42 at turn 2." : "answer"));

        TurnResult? last = null;
        for (var i = 0; i < 6; i++)
        {
            last = await t.Conversation.SendAsync($"question {i}");
        }

        var summaries = (await t.EntriesAsync()).OfType<SummaryEntry>().ToList();
        Assert.NotEmpty(summaries);
        Assert.All(summaries, s => Assert.True(s.FromSequence <= s.ThroughSequence));
        Assert.Equal(summaries.Count, t.Model.Requests.Count(IsSummaryRequest));
        var request = last!.Request.Request;
        Assert.Equal(["Be brief."], request.System.Select(b => b.Text));
        // The pinned first exchange is still sent verbatim, then the summary leads the window's first message.
        Assert.Equal("question 0", request.Messages[0].Text);
        Assert.Contains("error E42", request.Messages[2].Content[0].Text, StringComparison.Ordinal);
        Assert.StartsWith("question ", request.Messages[2].Content[1].Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_streamed_turn_says_it_is_summarizing_before_the_wait()
    {
        var policy = new SummarizingPolicy(new SlidingWindowPolicy(new SlidingWindowOptions { Messages = 4, MessageStep = 2 }));
        var t = new TestLedger(Options(policy), Services());
        for (var i = 0; i < 4; i++)
        {
            await t.Conversation.SendAsync($"question {i}");
        }
        Assert.Empty((await t.EntriesAsync()).OfType<SummaryEntry>());
        var updates = new List<TurnUpdate>();

        await foreach (var update in t.Conversation.StreamAsync("question 4"))
        {
            updates.Add(update);
        }

        var summarizing = Assert.IsType<TurnSummarizing>(updates[0]);
        Assert.IsType<TurnCommitted>(updates[^1]);
        var stored = Assert.Single((await t.EntriesAsync()).OfType<SummaryEntry>());
        Assert.Equal((summarizing.FromSequence, summarizing.ThroughSequence), (stored.FromSequence, stored.ThroughSequence));
    }

    [Fact]
    public async Task Cache_breakpoints_sit_on_the_system_prompt_and_the_new_message()
    {
        var t = new TestLedger(Options(), Services());
        await t.Conversation.SetSystemPromptAsync("You are a senior software architect.");

        var turn = await t.Conversation.SendAsync("hello");

        var request = turn.Request.Request;
        Assert.True(request.System[0].HasCacheControl);
        Assert.True(request.Messages[^1].Content[^1].HasCacheControl);
        Assert.Equal(2, turn.Request.Breakpoints.Count);
        // Stored messages never carry the request's breakpoints.
        Assert.All((await t.EntriesAsync()).OfType<MessageEntry>(), e => Assert.DoesNotContain(e.Message.Content, b => b.HasCacheControl));
    }

    [Fact]
    public async Task A_stepped_window_keeps_the_previous_request_as_an_exact_prefix_between_steps()
    {
        var t = new TestLedger(Options(new SlidingWindowPolicy(new SlidingWindowOptions { Messages = 6, MessageStep = 4 })), Services());
        var requests = new List<ModelRequest>();
        for (var i = 0; i < 14; i++)
        {
            requests.Add((await t.Conversation.SendAsync($"question {i}")).Request.Request);
        }

        var stable = 0;
        for (var i = 1; i < requests.Count; i++)
        {
            var previous = WithoutCacheControl(requests[i - 1]);
            var current = WithoutCacheControl(requests[i]);
            if (current.Take(previous.Count).SequenceEqual(previous))
            {
                stable++;
            }
        }
        // The window moves every 4 messages = every 2 turns: at most every other request breaks the prefix.
        Assert.True(stable >= (requests.Count - 1) / 2, $"only {stable} of {requests.Count - 1} requests kept the prefix");
    }

    [Theory]
    [InlineData("window:6/4")]
    [InlineData("summarize:6/4")]
    [InlineData("window:300t/100t")]
    public async Task A_tool_loop_keeps_the_window_where_its_question_found_it(string policy)
    {
        var t = new TestLedger(Options(HistoryPolicies.Parse(policy)), Services());
        for (var i = 0; i < 5; i++)
        {
            await t.Conversation.SendAsync($"question {i} " + new string('q', 100));
        }
        var calls = 0;
        t.Model.SendAsyncCallback = (request, _) => Task.FromResult(IsSummaryRequest(request)
            ? FakeModel.Respond("- five questions")
            : FakeModel.Respond(++calls <= 4 ? Assistant(Text($"call {calls} " + new string('c', 60)), ToolUse($"toolu_{calls:D2}")) : Message.Assistant("done")));

        var turn = await t.Conversation.SendAsync("Check four things.");
        var requests = new List<ModelRequest> { turn.Request.Request };
        while (calls <= 4)
        {
            turn = await t.Conversation.SendAsync(User(ContentBlock.CreateToolResult($"toolu_{calls:D2}", new string('r', 60))));
            requests.Add(turn.Request.Request);
        }

        // Every request of the loop is the one before plus the call and its result: nothing before them moved.
        for (var i = 1; i < requests.Count; i++)
        {
            var previous = WithoutCacheControl(requests[i - 1]);
            Assert.Equal(previous, WithoutCacheControl(requests[i]).Take(previous.Count));
            Assert.Equal(previous.Count + 2, WithoutCacheControl(requests[i]).Count);
        }
        // After the loop the window moves on as usual.
        var next = await t.Conversation.SendAsync("And now?");
        Assert.True(next.Request.Request.Messages.Count < requests[^1].Messages.Count + 2);
    }

    [Theory]
    [InlineData("window:6/4")]
    [InlineData("truncate:6")]
    [InlineData("summarize:6/4")]
    [InlineData("window:300t/100t")]
    public async Task A_tool_loop_right_after_a_longer_one_keeps_the_window_where_its_question_found_it(string policy)
    {
        var t = new TestLedger(Options(HistoryPolicies.Parse(policy)), Services());
        await t.Conversation.SendAsync("Hello, I am Hesham.");
        var calls = 0;
        var callsLeft = 0;
        t.Model.SendAsyncCallback = (request, _) => Task.FromResult(IsSummaryRequest(request)
            ? FakeModel.Respond("- crawled a site")
            : FakeModel.Respond(callsLeft-- > 0 ? Assistant(Text($"call {++calls} " + new string('c', 60)), ToolUse($"toolu_{calls:D2}")) : Message.Assistant("done")));
        async Task<List<ModelRequest>> LoopAsync(string question, int steps)
        {
            callsLeft = steps;
            var turn = await t.Conversation.SendAsync(question);
            var requests = new List<ModelRequest> { turn.Request.Request };
            while (turn.Reply.Message.Content.FirstOrDefault(b => b.ToolUse is not null) is { } call)
            {
                turn = await t.Conversation.SendAsync(User(ContentBlock.CreateToolResult(call.ToolUse!.Id, new string('r', 60))));
                requests.Add(turn.Request.Request);
            }
            return requests;
        }

        await LoopAsync("Crawl the whole site.", 8); // longer than the window: the next question's window starts inside it
        var requests = await LoopAsync("Now check the links.", 3);

        for (var i = 1; i < requests.Count; i++)
        {
            var previous = WithoutCacheControl(requests[i - 1]);
            Assert.Equal(previous, WithoutCacheControl(requests[i]).Take(previous.Count));
        }
    }

    [Fact]
    public async Task A_tool_loop_pinned_while_it_runs_is_pinned_whole_without_the_automatic_first_pin()
    {
        var options = Options(HistoryPolicies.Parse("window:4"));
        options.PinFirstExchange = false;
        var t = new TestLedger(options, Services());
        await t.Conversation.SendAsync("Hello.");
        var calls = 0;
        t.Model.SendAsyncCallback = (_, _) => Task.FromResult(FakeModel.Respond(
            ++calls <= 3 ? Assistant(Text($"call {calls}"), ToolUse($"toolu_{calls:D2}")) : Message.Assistant("The deploy key is K-17.")));
        var turn = await t.Conversation.SendAsync("Find the deploy key.");
        await t.Conversation.PinAsync(turn.User.Sequence); // pinned while the loop runs
        while (turn.Reply.Message.Content.FirstOrDefault(b => b.ToolUse is not null) is { } call)
        {
            turn = await t.Conversation.SendAsync(User(ContentBlock.CreateToolResult(call.ToolUse!.Id, "not here")));
        }
        t.Model.SendAsyncCallback = null;
        for (var i = 0; i < 4; i++)
        {
            turn = await t.Conversation.SendAsync($"question {i}");
        }

        // The loop left the window long ago; being pinned, it is still sent, whole.
        var sent = turn.Request.Request.Messages;
        Assert.Equal("Find the deploy key.", sent[0].Text);
        Assert.Contains(sent, m => m.Text == "The deploy key is K-17.");
    }

    [Fact]
    public async Task A_window_that_slides_every_turn_changes_the_prefix_every_turn()
    {
        var t = new TestLedger(Options(new SlidingWindowPolicy(new SlidingWindowOptions { Messages = 6, IncludePins = false })), Services());
        var requests = new List<ModelRequest>();
        for (var i = 0; i < 8; i++)
        {
            requests.Add((await t.Conversation.SendAsync($"question {i}")).Request.Request);
        }

        var last = WithoutCacheControl(requests[^1]);
        var previous = WithoutCacheControl(requests[^2]);
        Assert.False(last.Take(previous.Count).SequenceEqual(previous));
    }

    [Fact]
    public async Task Preview_shows_the_next_request_without_sending_or_storing_anything()
    {
        var t = new TestLedger(Options(), Services());
        await t.Conversation.SendAsync("hello");
        var before = await t.EntriesAsync();

        var preview = await t.Conversation.PreviewAsync(Message.User("next"));

        Assert.Equal(1, t.Model.Calls);
        Assert.Equal(before, await t.EntriesAsync());
        Assert.Equal(3, preview.Request.Messages.Count);
        Assert.Equal(preview.Parts.NewMessage, CharacterTokenCounter.Instance.CountTokens(Message.User("next")));
        Assert.Equal("next", JsonNode.Parse(preview.ToJson())!["messages"]![2]!["content"]![0]!["text"]!.GetValue<string>());
        Assert.True(preview.UncachedInputCostUsd > 0);
    }

    [Fact]
    public async Task Exact_counts_come_from_count_tokens_for_the_request_the_turn_would_send_and_calibrate_the_estimate()
    {
        var t = new TestLedger(Options(), Services(learningRate: 1));
        await t.Conversation.SendAsync("hello");
        var preview = await t.Conversation.PreviewAsync(Message.User("next"));
        var before = await t.EntriesAsync();
        var real = (long)(preview.Parts.Total * 1.2);
        ModelRequest? counted = null;
        t.Model.CountTokensAsyncCallback = (request, _) =>
        {
            counted = request;
            return Task.FromResult(real);
        };

        var exact = await t.Conversation.CountTokensAsync(Message.User("next"));

        Assert.Equal(real, exact);
        Assert.Equal(preview.ToJson(), counted!.ToJson());
        Assert.Equal((double)real / preview.Parts.Total, t.Ledger.Calibration.FactorFor("claude-sonnet-5-5"), 3);
        Assert.Equal(before, await t.EntriesAsync());
    }

    [Theory]
    [InlineData("window:6")]
    [InlineData("truncate:6")]
    [InlineData("summarize:6/4")]
    [InlineData("window:400t")]
    public async Task An_agent_loop_longer_than_the_window_keeps_going_with_valid_requests(string policy)
    {
        var t = new TestLedger(Options(HistoryPolicies.Parse(policy)), Services());
        await t.Conversation.SendAsync("Hello, I am Hesham."); // the pinned first exchange
        var calls = 0;
        t.Model.SendAsyncCallback = (request, _) => Task.FromResult(IsSummaryRequest(request)
            ? FakeModel.Respond("- asked for the weather in 30 cities")
            : FakeModel.Respond(++calls < 30 ? Assistant(Text($"checking city {calls}"), ToolUse($"toolu_{calls:D2}")) : Message.Assistant("all done")));

        var turn = await t.Conversation.SendAsync("What is the weather in these 30 cities?");
        while (turn.Reply.Message.Content.FirstOrDefault(b => b.ToolUse is not null) is { } call)
        {
            turn = await t.Conversation.SendAsync(User(ContentBlock.CreateToolResult(call.ToolUse!.Id, $"{calls} degrees")));
            var sent = turn.Request.Request.Messages;
            Assert.Empty(ConversationValidator.Validate(sent, ValidationOptions.ApiRequest));
            // The tool result is answered with its call in the same request.
            Assert.Contains(sent[^2].Content, b => b.ToolUse?.Id == call.ToolUse!.Id);
        }

        Assert.Equal("all done", turn.Reply.Message.Text);
        Assert.Empty(ConversationValidator.Validate((await t.Conversation.LoadAsync()).Messages.Select(m => m.Message).ToList(), ValidationOptions.StrictHistory));
    }

    [Fact]
    public async Task A_tool_loop_over_the_budget_drops_its_oldest_steps_but_never_the_call_the_new_result_answers()
    {
        var t = new TestLedger(Options(KeepAllPolicy.Instance, model: "small"), Services());
        await t.Conversation.SendAsync("Hello.");
        var calls = 0;
        t.Model.SendAsyncCallback = (_, _) => Task.FromResult(FakeModel.Respond(
            Assistant(Text($"step {++calls} " + new string('c', 1000)), ToolUse($"toolu_{calls:D2}"))));
        var turn = await t.Conversation.SendAsync("Crawl the site.");
        for (var i = 0; i < 5; i++)
        {
            turn = await t.Conversation.SendAsync(User(ContentBlock.CreateToolResult($"toolu_{calls:D2}", new string('r', 2000))));
            Assert.True(turn.Request.EstimatedInputTokens <= turn.Request.Budget);
            Assert.Empty(ConversationValidator.Validate(turn.Request.Request.Messages, ValidationOptions.StrictRequest));
        }
        Assert.Contains(turn.Request.Selection.Omitted, o => o.Reason.Contains("budget", StringComparison.Ordinal));
        var before = await t.EntriesAsync();

        // A result that fits only without the call it answers cannot be sent at all.
        var error = await Assert.ThrowsAsync<ContextBudgetExceededException>(() =>
            t.Conversation.SendAsync(User(ContentBlock.CreateToolResult($"toolu_{calls:D2}", new string('r', 6400)))));

        Assert.Contains("the tool result and the call it answers do not fit", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, await t.EntriesAsync());
    }

    private static bool IsSummaryRequest(ModelRequest request) =>
        request.System.Count > 0 && request.System[0].Text == HistorySummarizer.Instructions;

    private static List<string> WithoutCacheControl(ModelRequest request) =>
        request.System.Select(b => b.WithCacheControl(null).Json)
            .Concat(request.Messages.Select(m => new Message(m.Role, m.Content.Select(b => b.WithCacheControl(null)).ToArray()).ToJson()))
            .ToList();
}
