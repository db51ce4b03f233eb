using ConversationLedger.Emulator;
using System.Text;
using System.Text.Json;

namespace ConversationLedger.Anthropic.Tests;

/// <summary>An emulator whose model table adds a small-window model, so long tool results make budget fitting cut.</summary>
public sealed class SmallModelEmulatorFixture : IAsyncLifetime
{
    public const string SmallModel = "claude-small-test";

    public static ModelCatalog Models { get; } = new(ModelCatalog.Default.Models.Append(
        new ModelInfo { Id = SmallModel, ContextWindow = 8_000, MaxOutput = 8_192, InputPerMTok = 1, OutputPerMTok = 5, ThinkingForms = ["adaptive", "enabled", "disabled"] }));

    public EmulatorServer Emulator { get; } = new(new EmulatorOptions { ApiKey = EmulatorFixture.ApiKey, Models = Models });

    public string Url { get; private set; } = "";

    public AnthropicModelClient Client() =>
        new(new AnthropicModelClientOptions { ApiKey = EmulatorFixture.ApiKey, BaseUrl = Url, MaxRetries = 0, Timeout = TimeSpan.FromSeconds(30) });

    public async Task InitializeAsync() => Url = await Emulator.StartAsync();

    public async Task DisposeAsync() => await Emulator.DisposeAsync();
}

/// <summary>
/// Seeded random agent sessions over HTTP: plain turns, tool loops, pins, resets, system prompts and edits under each
/// history policy. The emulator makes the API's checks (thinking signatures included), so every call must be accepted.
/// </summary>
public sealed class AgentSessionTests(SmallModelEmulatorFixture fixture) : IClassFixture<SmallModelEmulatorFixture>, IDisposable
{
    private const int Steps = 30;

    // About 2,300 tokens: two fill most of the small model's budget (8,000 − 2,048 − 1,024), three do not fit.
    private static readonly string LongResult = string.Join(' ', Enumerable.Range(0, 1_100).Select(i => $"row{i}"));
    private static readonly int LongTokens = O200kTokenCounter.CountText(LongResult);

    // A generous bound on what one more call and its short result add to a loop's request (thinking included).
    private const int StepTokens = 150;

    public void Dispose() => fixture.Emulator.Reset();

    [Theory]
    [InlineData(1, "default", false)]
    [InlineData(100, "window:6/4", true)]
    [InlineData(3, "summarize:6/4", true)]
    [InlineData(4, "truncate:8", false)]
    [InlineData(100, "guide:8", false)]
    // Each had a call refused: a tool loop whose pins no longer fit dropped its question instead of the pins (140); a loop
    // longer than the look-back after a long result had its window moved (110); a turn before a loop was cut whole where
    // the loop's question's request had kept its reply (122).
    [InlineData(140, "window:600t/200t", true)]
    [InlineData(110, "window:600t/200t", true)]
    [InlineData(122, "default", true)]
    public async Task Every_call_of_a_random_agent_session_passes_the_APIs_checks(int seed, string policy, bool thinking)
    {
        var session = new Session(fixture, seed, policy, thinking);

        await session.RunAsync();

        Assert.True(session.CutRequests > 0, $"seed {seed}: no request was cut, so the session tested nothing\n{session.Log}");
    }

    /// <summary>One scripted session: two ledgers over one thread, one forced to call the tool, one free to answer.</summary>
    private sealed class Session
    {
        private readonly Random _random;
        private readonly bool _thinking;
        private readonly Conversation _chat;
        private readonly Conversation _agent;
        private readonly StringBuilder _log = new();
        private readonly List<long> _replies = [];
        private TurnResult? _last;
        private int _callsLeft;

        public Session(SmallModelEmulatorFixture fixture, int seed, string policy, bool thinking)
        {
            _random = new Random(seed);
            _thinking = thinking;
            var store = new InMemoryConversationStore();
            var key = new ThreadKey("t", "s", $"agent-{seed}");
            // One application's view of the model's token counts: the two ledgers stand for one agent.
            var calibration = new TokenCalibration();
            LedgerOptions Options(string? toolChoice) => new()
            {
                Model = SmallModelEmulatorFixture.SmallModel,
                Policy = policy,
                MaxTokens = 2048,
                Thinking = thinking ? ThinkingOptions.Adaptive : ThinkingOptions.Off,
                Tools = JsonDocument.Parse("""[{"name":"search","input_schema":{"type":"object"}}]""").RootElement,
                ToolChoice = toolChoice is null ? null : JsonDocument.Parse(toolChoice).RootElement,
            };
            var services = new LedgerServices { Models = SmallModelEmulatorFixture.Models, Calibration = calibration };
            _chat = new Ledger(store, fixture.Client(), Options(null), services).Open(key);
            _agent = new Ledger(store, fixture.Client(), Options("""{"type":"any"}"""), services).Open(key);
            _log.AppendLine($"seed {seed}, {policy}, thinking {(thinking ? "on" : "off")}");
        }

        public int CutRequests { get; private set; }

        public string Log => _log.ToString();

        private bool InLoop => _callsLeft > 0;

        public async Task RunAsync()
        {
            for (var step = 0; step < Steps; step++)
            {
                var action = InLoop ? LoopAction() : TurnAction();
                _log.AppendLine($"{step}: {action}");
                try
                {
                    await RunAsync(action);
                }
                catch (ModelCallException e)
                {
                    Assert.Fail($"the API refused a call: {e.Message}\n{Log}");
                }
                var stored = (await _chat.LoadAsync()).AsMessages();
                var violations = ConversationValidator.Validate(stored, ValidationOptions.StrictHistory);
                Assert.True(violations.Count == 0, $"invalid history: {string.Join("; ", violations)}\n{Log}");
            }
        }

        private string LoopAction() => _random.Next(10) switch
        {
            0 => "system prompt (in loop)",
            1 => "edit (in loop)",
            _ => "tool result",
        };

        private string TurnAction() => _random.Next(20) switch
        {
            < 6 => "user turn",
            < 8 => "long user turn",
            < 13 => "tool loop",
            < 15 => "pin",
            15 => "reset",
            < 18 => "system prompt",
            _ => "edit",
        };

        private async Task RunAsync(string action)
        {
            switch (action)
            {
                case "user turn":
                    await TurnAsync(_chat, Message.User($"question {_random.Next(1000)}"));
                    break;
                case "long user turn":
                    await TurnAsync(_chat, Message.User($"Read this: {LongResult}"));
                    break;
                case "tool loop":
                    await LoopAsync(_random.Next(1, 13), Message.User($"Search for {_random.Next(1000)} until done."));
                    break;
                case "tool result":
                    await ToolResultAsync();
                    break;
                case "pin" when _replies.Count > 0:
                    await _chat.PinAsync(_replies[^_random.Next(1, Math.Min(_replies.Count, 3) + 1)]);
                    break;
                case "reset":
                    await _chat.ResetAsync("fresh start");
                    _replies.Clear();
                    break;
                case "system prompt":
                    await _chat.SetSystemPromptAsync($"Be brief, style {_random.Next(1000)}.");
                    break;
                case "edit":
                    await EditAsync();
                    break;
                case "system prompt (in loop)" or "edit (in loop)" when _thinking:
                    // The library refuses on purpose: the loop's thinking could not be sent back after the change.
                    await Assert.ThrowsAsync<LedgerException>(() => RunAsync(action.Replace(" (in loop)", "")));
                    break;
                case "system prompt (in loop)" or "edit (in loop)":
                    await RunAsync(action.Replace(" (in loop)", ""));
                    break;
            }
        }

        private async Task ToolResultAsync()
        {
            var calls = _last!.Reply.Message.Content.Where(b => b.ToolUse is not null).Select(b => b.ToolUse!.Id).ToList();
            var results = calls.Select(id => ContentBlock.CreateToolResult(id, ResultText())).ToList();
            _callsLeft--;
            await TurnAsync(InLoop ? _agent : _chat, new Message(Role.User, results));
        }

        // With thinking on, a loop that outgrows the token budget cannot keep its thinking (docs/benchmarks.md): each stays within it.
        private async Task LoopAsync(int calls, Message question)
        {
            if (_thinking)
            {
                var preview = await _agent.PreviewAsync(question);
                calls = (int)Math.Min(calls, (preview.Budget - preview.EstimatedInputTokens) / StepTokens);
            }
            if (calls < 1)
            {
                _log.AppendLine("   no room for a loop: a plain turn");
                await TurnAsync(_chat, question);
                return;
            }
            _callsLeft = calls;
            _log.AppendLine($"   {calls} calls");
            await TurnAsync(_agent, question);
        }

        private string ResultText()
        {
            var room = _last!.Request.Budget - _last.Request.EstimatedInputTokens - (_callsLeft + 1) * StepTokens;
            if (_random.Next(4) != 0 || (_thinking && room < LongTokens))
            {
                return $"result {_random.Next(1000)}";
            }
            _log.AppendLine("   long result");
            return LongResult;
        }

        private async Task EditAsync()
        {
            var view = await _chat.LoadAsync();
            var questions = view.Messages.Where(m => m.Message.Role == Role.User && m.Message.Content.All(b => b.Type == "text")).ToList();
            if (questions.Count == 0)
            {
                return; // right after a reset (never in a loop: its question is there)
            }
            var question = questions[^_random.Next(1, Math.Min(questions.Count, 3) + 1)];
            await _chat.EditAsync(question.Sequence, Message.User($"{question.Message.Text} (edited)"));
        }

        private async Task TurnAsync(Conversation conversation, Message message)
        {
            _last = await conversation.SendAsync(message);
            _replies.Add(_last.Reply.Sequence);
            CutRequests += _last.Request.Selection.IsCut ? 1 : 0;
            var calls = _last.Reply.Message.CallsTools;
            Assert.True(calls == InLoop, $"expected {(InLoop ? "a tool call" : "an answer")}, got {_last.StopReason}\n{Log}");
        }
    }
}
