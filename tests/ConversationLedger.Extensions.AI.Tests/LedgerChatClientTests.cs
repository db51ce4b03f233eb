using System.Text.Json;
using Anthropic;
using ConversationLedger.Emulator;
using ConversationLedger.Sqlite;
using Microsoft.Extensions.AI;

namespace ConversationLedger.Extensions.AI.Tests;

/// <summary>
/// The middleware over the Anthropic SDK's own <c>AsIChatClient()</c>, against the emulator over HTTP (which checks thinking
/// signatures), with the history in a real SQLite file.
/// </summary>
public sealed class LedgerChatClientTests : IAsyncLifetime, IDisposable
{
    private const string ApiKey = "sk-ant-test-extensions-ai";
    private const string Thread = "acme/ticket-42/main";
    private static readonly ThreadKey Key = new("acme", "ticket-42", "main");
    private readonly EmulatorServer _emulator = new(new EmulatorOptions { ApiKey = ApiKey });
    private readonly string _directory = Directory.CreateTempSubdirectory("ledger-meai-").FullName;
    private string _url = "";

    private string DbPath => Path.Combine(_directory, "ledger.db");

    public async Task InitializeAsync() => _url = await _emulator.StartAsync();

    public async Task DisposeAsync() => await _emulator.DisposeAsync();

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    // A whole application's pipeline: its own SDK client, its own ledger, over the shared SQLite file.
    private IChatClient Pipeline(Ledger? ledger = null) =>
        new AnthropicClient { ApiKey = ApiKey, BaseUrl = _url, MaxRetries = 0 }
            .AsIChatClient("claude-sonnet-5-5")
            .AsBuilder()
            .UseConversationLedger(ledger ?? NewLedger())
            .Build();

    private Ledger NewLedger() => new(new SqliteConversationStore(DbPath), new NoDirectModel(), new LedgerOptions { MaxTokens = 2048, Policy = "keep-all" });

    private static ChatOptions In(string conversationId) => new() { ConversationId = conversationId };

    private IReadOnlyList<LoggedRequest> Log => _emulator.Requests.Snapshot();

    [Fact]
    public async Task Two_pipelines_sharing_one_SQLite_file_continue_one_conversation()
    {
        var first = await Pipeline().GetResponseAsync([new ChatMessage(ChatRole.User, "The code word is teal.")], In(Thread));

        var second = await Pipeline().GetResponseAsync([new ChatMessage(ChatRole.User, "What is the code word?")], In(Thread));

        var body = JsonDocument.Parse(Log[^1].Body).RootElement;
        var messages = body.GetProperty("messages");
        Assert.Equal(3, messages.GetArrayLength());
        Assert.Contains("The code word is teal.", messages[0].GetRawText(), StringComparison.Ordinal);
        // The first reply went back as the API gave it: its signed thinking block first (the emulator checks the signature).
        Assert.Equal("thinking", messages[1].GetProperty("content")[0].GetProperty("type").GetString());
        Assert.Equal(Thread, first.ConversationId);
        Assert.Equal(Thread, second.ConversationId);
        Assert.Contains("I can see 3 messages", second.Text, StringComparison.Ordinal);
        var stored = await NewLedger().Open(Key).LoadAsync();
        Assert.Equal(4, stored.MessageCount);
        Assert.NotNull(stored.Messages[1].Message.Content[0].Thinking?.Signature);
    }

    [Fact]
    public async Task Streamed_turns_are_stored_and_carried_by_the_next_request()
    {
        var streamed = new List<ChatResponseUpdate>();
        await foreach (var update in Pipeline().GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "The code word is amber.")], In(Thread)))
        {
            streamed.Add(update);
        }

        var second = new List<ChatResponseUpdate>();
        await foreach (var update in Pipeline().GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "What is the code word?")], In(Thread)))
        {
            second.Add(update);
        }

        Assert.True(Log[^1].Stream);
        var messages = JsonDocument.Parse(Log[^1].Body).RootElement.GetProperty("messages");
        Assert.Equal(3, messages.GetArrayLength());
        Assert.Contains("The code word is amber.", messages[0].GetRawText(), StringComparison.Ordinal);
        Assert.Equal(streamed.ToChatResponse().Text, (await NewLedger().Open(Key).LoadAsync()).Messages[1].Message.Text);
        Assert.Contains("I can see 3 messages", second.ToChatResponse().Text, StringComparison.Ordinal);
        Assert.All(second, u => Assert.Equal(Thread, u.ConversationId));
        Assert.Equal(4, (await NewLedger().Open(Key).LoadAsync()).MessageCount);
    }

    [Fact]
    public async Task A_failed_inner_call_stores_nothing()
    {
        var client = Pipeline();
        await client.GetResponseAsync([new ChatMessage(ChatRole.User, "hello")], In(Thread));
        var before = await NewLedger().Store.ReadEntriesAsync(Key, 0, int.MaxValue);
        _emulator.Faults.Enqueue("500");

        await Assert.ThrowsAnyAsync<Exception>(() => client.GetResponseAsync([new ChatMessage(ChatRole.User, "lost")], In(Thread)));

        Assert.Equal(before, await NewLedger().Store.ReadEntriesAsync(Key, 0, int.MaxValue));
        Assert.Equal(2, Log.Count);
    }

    [Fact]
    public async Task A_stream_cut_short_stores_nothing()
    {
        var client = Pipeline();
        _emulator.Faults.Enqueue("cut:3");

        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await foreach (var _ in client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "lost")], In(Thread)))
            {
            }
        });

        Assert.Empty(await NewLedger().Store.ReadEntriesAsync(Key, 0, int.MaxValue));
    }

    [Fact]
    public async Task A_call_without_a_conversation_id_passes_through_and_stores_nothing()
    {
        var ledger = NewLedger();

        var response = await Pipeline(ledger).GetResponseAsync([new ChatMessage(ChatRole.User, "just once")]);

        Assert.Contains("I can see 1 message ", response.Text, StringComparison.Ordinal);
        Assert.Null(response.ConversationId);
        Assert.Empty((await ledger.Store.ListThreadsAsync("acme", null, new PageRequest(Limit: 10))).Threads);
    }

    // The middleware calls the model through the pipeline; the ledger's own client only writes summaries, which keep-all never does.
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
