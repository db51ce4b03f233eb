using System.Text.Json;

namespace ConversationLedger;

/// <summary>What to do when another writer committed to the thread while a turn was in flight.</summary>
public enum ConflictHandling
{
    /// <summary>Throw <see cref="ConcurrencyConflictException"/>; nothing of the turn is stored.</summary>
    Throw,

    /// <summary>Wait for the other turn, then send again on the new history (up to <see cref="LedgerOptions.MaxConflictRetries"/> times).</summary>
    WaitAndRetry,
}

/// <summary>Settings of a <see cref="Ledger"/>.</summary>
public sealed class LedgerOptions
{
    /// <summary>The model id. <value>The default value is "claude-sonnet-5-5".</value></summary>
    public string Model { get; set; } = "claude-sonnet-5-5";

    /// <summary>The most tokens a reply may have. <value>The default value is 1024.</value></summary>
    public int MaxTokens { get; set; } = 1024;

    /// <summary>The model table (limits and prices). <value>The default value is the built-in table.</value></summary>
    public ModelCatalog Models { get; set; } = ModelCatalog.Default;

    /// <summary>What to do on a concurrent commit. <value>The default value is <see cref="ConflictHandling.Throw"/>.</value></summary>
    public ConflictHandling OnConflict { get; set; } = ConflictHandling.Throw;

    /// <summary>How often to send again after conflicts with <see cref="ConflictHandling.WaitAndRetry"/>. <value>The default value is 3.</value></summary>
    public int MaxConflictRetries { get; set; } = 3;

    /// <summary>
    /// What of the history each request carries. <value>The default value is <see cref="DefaultPolicy"/>: pins, a running
    /// summary and a window of the newest 12–35 messages that moves in steps of 24, so the prompt prefix stays cached between steps.</value>
    /// </summary>
    public IHistoryPolicy Policy { get; set; } = DefaultPolicy;

    /// <summary>
    /// The cache-aware default policy. The step was chosen by the 200-turn token-economy scenario
    /// (docs/benchmarks.md): larger steps mean fewer cache misses and fewer summaries, at the price of a larger window.
    /// </summary>
    public static IHistoryPolicy DefaultPolicy { get; } =
        new SummarizingPolicy(new SlidingWindowPolicy(new SlidingWindowOptions { Messages = 12, MessageStep = 24 }));

    /// <summary>
    /// The tool definitions sent with every turn: the API's <c>tools</c> array, verbatim (null: none). The model's tool
    /// calls are stored with its reply; answer them by sending a user message of tool_result blocks. The definitions
    /// count against the token budget and lead the cached prompt prefix. <value>The default value is null.</value>
    /// </summary>
    /// <exception cref="ArgumentException">The value is not a JSON array.</exception>
    public JsonElement? Tools
    {
        get => _tools;
        set
        {
            _tools = Checked(value, JsonValueKind.Array, "tools must be a JSON array of tool definitions");
            ToolsJson = _tools?.GetRawText();
        }
    }

    /// <summary>The API's <c>tool_choice</c> object, verbatim (null: the API's default, auto). <value>The default value is null.</value></summary>
    /// <exception cref="ArgumentException">The value is not a JSON object.</exception>
    public JsonElement? ToolChoice
    {
        get => _toolChoice;
        set => _toolChoice = Checked(value, JsonValueKind.Object, """tool_choice must be a JSON object such as {"type":"auto"}""");
    }

    /// <summary>
    /// Extended thinking (null: the model's default; models that think by default do). Written in each model's form: adaptive
    /// where the model takes it, a token budget where it only takes budgets. Thinking blocks are stored with their signatures
    /// (an empty text when the display is omitted) and sent back while the prompt before them is unchanged: always before the
    /// history is first cut, and within a tool loop (whose window stays put); after a cut, older ones are dropped, as the API
    /// no longer accepts them. <value>The default value is null.</value>
    /// </summary>
    public ThinkingOptions? Thinking { get; set; }

    /// <summary>
    /// How much effort the model spends (<c>output_config.effort</c>: low, medium, high or max, as the model's table row
    /// allows), sent to models that take it; null leaves the API's default (high). On a model that thinks only with a
    /// budget, it sizes the budget of adaptive thinking instead. <value>The default value is null.</value>
    /// </summary>
    public string? Effort { get; set; }

    /// <summary>Whether requests to <paramref name="model"/> think: thinking asked for, or not turned off on a model that thinks by default.</summary>
    internal bool ThinksOn(ModelInfo model) => Thinking is null ? model.ThinksByDefault : Thinking.Mode != ThinkingMode.Off;

    /// <summary>The tool definitions' JSON text as sent (kept once, so counting its tokens reads no JSON per turn).</summary>
    internal string? ToolsJson { get; private set; }

    private JsonElement? _tools;
    private JsonElement? _toolChoice;

    // A request field of the expected JSON kind (or null), written as sent (no indentation) so the local token estimate
    // counts what the API will count.
    private static JsonElement? Checked(JsonElement? value, JsonValueKind kind, string rule) => value switch
    {
        null => null,
        { ValueKind: var actual } when actual != kind => throw new ArgumentException($"{rule}, not {actual}", nameof(value)),
        { } json => JsonSerializer.SerializeToElement(json),
    };

    /// <summary>Whether the first exchange of a conversation (and of each reset) is pinned when it is committed. <value>The default value is true.</value></summary>
    public bool PinFirstExchange { get; set; } = true;

    /// <summary>Whether requests carry prompt-cache breakpoints. <value>The default value is true.</value></summary>
    public bool PromptCaching { get; set; } = true;

    /// <summary>The cache TTL of the breakpoints, "5m" or "1h". <value>The default value is "5m".</value></summary>
    public string CacheTtl { get; set; } = "5m";

    /// <summary>Tokens kept free besides max_tokens: budget = context window − max_tokens − margin. <value>The default value is 1024.</value></summary>
    public int SafetyMarginTokens { get; set; } = 1024;

    /// <summary>How full the context window may get before turns carry a warning (checked before the call). <value>The default value is 0.8.</value></summary>
    public double WarnAtFill { get; set; } = 0.8;

    /// <summary>The model that writes summaries; null uses <see cref="Model"/>. <value>The default value is null.</value></summary>
    public string? SummaryModel { get; set; }

    /// <summary>The longest summary, in tokens. <value>The default value is 1024.</value></summary>
    public int SummaryMaxTokens { get; set; } = 1024;

    /// <summary>Learned per-model factors between the local estimate and the API's counts. <value>The default value is a new, empty calibration.</value></summary>
    public TokenCalibration Calibration { get; set; } = new();

    /// <summary>Local token estimates for entries and requests. <value>The default value is the o200k estimator.</value></summary>
    public ITokenCounter TokenCounter { get; set; } = O200kTokenCounter.Instance;

    /// <summary>The clock. <value>The default value is the system clock.</value></summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;
}
