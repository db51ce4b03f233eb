using System.Text.Json;
using Anthropic;
using ConversationLedger.Emulator;
using ConversationLedger.Sqlite;
using Microsoft.Agents.AI;
using Microsoft.Extensions.AI;

namespace ConversationLedger.Agents.Tests;

/// <summary>
/// A <c>ChatClientAgent</c> over the Anthropic SDK's <c>AsIChatClient()</c>, against the emulator over HTTP (which checks
/// thinking signatures), with its history in a real SQLite file through <see cref="LedgerChatHistoryProvider"/>.
/// </summary>
public sealed class LedgerChatHistoryProviderTests : IAsyncLifetime, IDisposable
{
    private const string ApiKey = "sk-ant-test-agents";
    private readonly EmulatorServer _emulator = new(new EmulatorOptions { ApiKey = ApiKey });
    private readonly string _directory = Directory.CreateTempSubdirectory("ledger-agents-").FullName;
    private string _url = "";

    private string DbPath => Path.Combine(_directory, "ledger.db");

    private IReadOnlyList<LoggedRequest> Log => _emulator.Requests.Snapshot();

    public async Task InitializeAsync() => _url = await _emulator.StartAsync();

    public async Task DisposeAsync() => await _emulator.DisposeAsync();

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    // One "process": its own SDK client, ledger, provider and agent over the shared SQLite file.
    private (ChatClientAgent Agent, LedgerChatHistoryProvider Provider) NewProcess(string policy = "keep-all", IList<AITool>? tools = null,
        Func<Task>? duringCall = null)
    {
        var provider = new LedgerChatHistoryProvider(NewLedger(policy));
        var chat = new AnthropicClient { ApiKey = ApiKey, BaseUrl = _url, MaxRetries = 0 }.AsIChatClient("claude-sonnet-5-5")
            .AsBuilder()
            .UseMessageUsage()
            .Use(async (messages, options, next, cancellationToken) =>
            {
                if (duringCall is not null)
                {
                    await duringCall();
                }
                await next(messages, options, cancellationToken);
            })
            .Build();
        var agent = new ChatClientAgent(chat, new ChatClientAgentOptions
        {
            Name = "assistant",
            ChatOptions = new ChatOptions { MaxOutputTokens = 2048, Tools = tools },
            ChatHistoryProvider = provider,
        });
        return (agent, provider);
    }

    private Ledger NewLedger(string policy = "keep-all") =>
        new(new SqliteConversationStore(DbPath), new NoDirectModel(), new LedgerOptions { MaxTokens = 2048, Policy = policy });

    [Fact]
    public async Task An_agent_remembers_across_a_process_restart_through_its_serialized_session()
    {
        var (agent, provider) = NewProcess();
        var session = await agent.CreateSessionAsync();
        await agent.RunAsync("The code word is teal.", session);
        var saved = await agent.SerializeSessionAsync(session);
        var key = provider.GetThreadKey(session);

        var (restarted, _) = NewProcess();
        var resumed = await restarted.DeserializeSessionAsync(JsonDocument.Parse(saved.GetRawText()).RootElement);
        var reply = await restarted.RunAsync("What is the code word?", resumed);

        var messages = JsonDocument.Parse(Log[^1].Body).RootElement.GetProperty("messages");
        Assert.Equal(3, messages.GetArrayLength());
        Assert.Contains("The code word is teal.", messages[0].GetRawText(), StringComparison.Ordinal);
        // The first reply went back as the API gave it, signed thinking first (the emulator checks the signature).
        Assert.Equal("thinking", messages[1].GetProperty("content")[0].GetProperty("type").GetString());
        Assert.Contains("I can see 3 messages", reply.Text, StringComparison.Ordinal);
        var stored = await NewLedger().Open(key).LoadAsync();
        Assert.Equal(4, stored.MessageCount);
    }

    [Fact]
    public async Task Each_session_gets_its_own_thread_and_the_provider_keeps_nothing_per_session()
    {
        var (agent, provider) = NewProcess();
        var first = await agent.CreateSessionAsync();
        var second = await agent.CreateSessionAsync();

        await agent.RunAsync("The code word is teal.", first);
        await agent.RunAsync("The code word is amber.", second);

        Assert.NotEqual(provider.GetThreadKey(first), provider.GetThreadKey(second));
        var messages = JsonDocument.Parse(Log[^1].Body).RootElement.GetProperty("messages");
        Assert.Equal(1, messages.GetArrayLength());
        Assert.Equal(2, (await NewLedger().Open(provider.GetThreadKey(first)).LoadAsync()).MessageCount);
    }

    [Fact]
    public async Task The_history_sent_is_the_ledger_policy_window()
    {
        var (agent, provider) = NewProcess("window:2/2");
        var session = await agent.CreateSessionAsync();
        foreach (var text in new[] { "one", "two", "three" })
        {
            await agent.RunAsync(text, session);
        }

        await agent.RunAsync("four", session);

        var messages = JsonDocument.Parse(Log[^1].Body).RootElement.GetProperty("messages");
        Assert.True(messages.GetArrayLength() < 7, $"the window should cut the 7-message history, sent {messages.GetArrayLength()}");
        // The first exchange is pinned; the second fell out of the window.
        Assert.Contains("\"one\"", messages.GetRawText(), StringComparison.Ordinal);
        Assert.DoesNotContain("\"two\"", messages.GetRawText(), StringComparison.Ordinal);
        Assert.Equal(8, (await NewLedger().Open(provider.GetThreadKey(session)).LoadAsync()).MessageCount);
    }

    [Fact]
    public async Task A_failed_run_stores_nothing()
    {
        var (agent, provider) = NewProcess();
        var session = await agent.CreateSessionAsync();
        await agent.RunAsync("hello", session);
        var key = provider.GetThreadKey(session);
        var before = await NewLedger().Store.ReadEntriesAsync(key, 0, int.MaxValue);
        _emulator.Faults.Enqueue("500");

        await Assert.ThrowsAnyAsync<Exception>(() => agent.RunAsync("lost", session));

        Assert.Equal(before, await NewLedger().Store.ReadEntriesAsync(key, 0, int.MaxValue));
    }

    [Fact]
    public async Task A_tool_loop_is_stored_as_one_turn_per_model_call_and_sent_back_whole()
    {
        var weather = AIFunctionFactory.Create((string city) => $"{city}: 4 °C, light snow", "get_weather", "The weather in a city now.");
        var (agent, provider) = NewProcess(tools: [weather]);
        var session = await agent.CreateSessionAsync();
        _emulator.Script.Enqueue(new ScriptedReply([ContentBlock.CreateToolUse("toolu_01", "get_weather", """{"city":"Oslo"}""")]));

        await agent.RunAsync("What's the weather in Oslo?", session);
        await agent.RunAsync("Should I wear a hat?", session);

        var stored = await NewLedger().Open(provider.GetThreadKey(session)).LoadAsync();
        Assert.Equal(6, stored.MessageCount);
        Assert.True(stored.Messages[1].Message.CallsTools);
        Assert.Equal("toolu_01", stored.Messages[2].Message.Content.Single(b => b.Type == "tool_result").ToolResultFor);
        var messages = JsonDocument.Parse(Log[^1].Body).RootElement.GetProperty("messages");
        Assert.Equal(5, messages.GetArrayLength());
        Assert.Contains("light snow", messages[2].GetRawText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_streamed_run_is_stored_and_carried_by_the_next_run()
    {
        var (agent, provider) = NewProcess();
        var session = await agent.CreateSessionAsync();
        var streamed = new List<AgentResponseUpdate>();
        await foreach (var update in agent.RunStreamingAsync("The code word is amber.", session))
        {
            streamed.Add(update);
        }

        var reply = await agent.RunAsync("What is the code word?", session);

        var messages = JsonDocument.Parse(Log[^1].Body).RootElement.GetProperty("messages");
        Assert.Equal(3, messages.GetArrayLength());
        Assert.Contains("The code word is amber.", messages[0].GetRawText(), StringComparison.Ordinal);
        Assert.Contains("I can see 3 messages", reply.Text, StringComparison.Ordinal);
        Assert.Equal(4, (await NewLedger().Open(provider.GetThreadKey(session)).LoadAsync()).MessageCount);
    }

    [Fact]
    public async Task Each_model_call_of_a_run_is_stored_with_its_usage_and_cost()
    {
        var (agent, provider) = NewProcess();
        var session = await agent.CreateSessionAsync();

        var response = await agent.RunAsync("hello", session);

        var entries = await NewLedger().Store.ReadEntriesAsync(provider.GetThreadKey(session), 0, int.MaxValue);
        var record = Assert.Single(entries.OfType<UsageEntry>()).Record;
        Assert.True(record.Usage.OutputTokens > 0);
        Assert.Equal(response.Usage!.OutputTokenCount, record.Usage.OutputTokens);
        Assert.Equal(response.Usage.InputTokenCount, record.Usage.TotalInputTokens);
        Assert.True(record.CostUsd > 0);
    }

    [Fact]
    public async Task A_run_during_which_another_writer_committed_fails_with_a_conflict_and_stores_nothing()
    {
        ThreadKey? key = null;
        var interfere = false;
        var (agent, provider) = NewProcess(duringCall: async () =>
        {
            if (interfere)
            {
                var other = await NewLedger().Open(key!).BeginTurnAsync(Message.User("from another process"));
                await other.CommitAsync(new ModelResponse("msg_x", "claude-sonnet-5-5", Message.Assistant("noted"), "end_turn", new TokenUsage(), null));
            }
        });
        var session = await agent.CreateSessionAsync();
        await agent.RunAsync("hello", session);
        key = provider.GetThreadKey(session);
        interfere = true;

        await Assert.ThrowsAsync<ConcurrencyConflictException>(() => agent.RunAsync("lost", session));

        var stored = await NewLedger().Open(key).LoadAsync();
        Assert.Equal(["hello", "from another process"], stored.Messages.Where(m => m.Message.Role == Role.User).Select(m => m.Message.Text));
    }

    [Fact]
    public void The_constructor_checks_its_arguments()
    {
        Assert.Equal("ledger", Assert.Throws<ArgumentNullException>(() => new LedgerChatHistoryProvider(null!)).ParamName);
        Assert.Equal("options", Assert.Throws<ArgumentException>(() =>
            new LedgerChatHistoryProvider(NewLedger(), new LedgerChatHistoryProviderOptions { StateKey = " " })).ParamName);
    }

    // The agent calls the model through its chat client; the ledger's own client only writes summaries, which these policies never do.
    private sealed class NoDirectModel : IModelClient
    {
        public Task<ModelResponse> SendAsync(ModelRequest request, CancellationToken cancellationToken = default) =>
            throw new InvalidOperationException("not used");

        public IAsyncEnumerable<ModelStreamEvent> StreamAsync(ModelRequest request, CancellationToken cancellationToken = default) =>
            throw new InvalidOperationException("not used");

        public Task<long> CountTokensAsync(ModelRequest request, CancellationToken cancellationToken = default) =>
            throw new InvalidOperationException("not used");
    }
}
