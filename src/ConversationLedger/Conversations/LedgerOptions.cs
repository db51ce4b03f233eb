using System.Globalization;
using System.Text.Json;

namespace ConversationLedger;

/// <summary>What to do when another turn is in flight on the thread, or another writer committed while this turn was.</summary>
public enum ConflictHandling
{
    /// <summary>
    /// Throw <see cref="ConcurrencyConflictException"/>; nothing of the turn is stored. A turn that finds another turn holding the
    /// thread's lease is refused before it calls the model (<see cref="ConcurrencyConflictException.TurnInFlight"/>).
    /// </summary>
    Throw,

    /// <summary>
    /// Wait for the thread's lease (for as long as the cancellation token allows), then send on the new history; a commit that
    /// still conflicts (another writer did not take the lease, or this turn's lease expired) is sent again, up to
    /// <see cref="LedgerOptions.MaxConflictRetries"/> times.
    /// </summary>
    WaitAndRetry,
}

/// <summary>
/// Settings of a <see cref="Ledger"/>: plain values (strings, numbers, enums), so the whole class binds from configuration
/// (<c>"ConversationLedger": { "Model": "claude-sonnet-5-5", "MaxTokens": 2048, "Policy": "window:20/10" }</c>). Services
/// (the model table, the token counter, the learned calibration) are passed to the ledger apart, in <see cref="LedgerServices"/>;
/// what changes per turn goes in <see cref="TurnOptions"/>. A ledger checks its options when it is made and keeps them as they
/// were then: once a ledger uses an instance, the instance is read-only (setting a property throws
/// <see cref="InvalidOperationException"/>), so a ledger never runs on settings nobody checked.
/// </summary>
public sealed class LedgerOptions
{
    private string _model = "claude-sonnet-5-5";
    private int _maxTokens = 1024;
    private ConflictHandling _onConflict = ConflictHandling.Throw;
    private int _maxConflictRetries = 3;
    private TimeSpan _turnLease = TimeSpan.FromMinutes(2);
    private string _policy = "default";
    private IHistoryPolicy? _historyPolicy;
    private JsonElement? _tools;
    private JsonElement? _toolChoice;
    private ThinkingOptions? _thinking;
    private string? _effort;
    private bool _pinFirstExchange = true;
    private bool _promptCaching = true;
    private bool _enableSensitiveTelemetryData;
    private string _cacheTtl = "5m";
    private int _safetyMarginTokens = 1024;
    private double _warnAtFill = 0.8;
    private string? _summaryModel;
    private int _summaryMaxTokens = 1024;

    /// <summary>The model id. <value>The default value is "claude-sonnet-5-5".</value></summary>
    public string Model { get => _model; set => Set(ref _model, value); }

    /// <summary>The most tokens a reply may have. <value>The default value is 1024.</value></summary>
    public int MaxTokens { get => _maxTokens; set => Set(ref _maxTokens, value); }

    /// <summary>What to do on a concurrent commit. <value>The default value is <see cref="ConflictHandling.Throw"/>.</value></summary>
    public ConflictHandling OnConflict { get => _onConflict; set => Set(ref _onConflict, value); }

    /// <summary>How often to send again after conflicts with <see cref="ConflictHandling.WaitAndRetry"/>. <value>The default value is 3.</value></summary>
    public int MaxConflictRetries { get => _maxConflictRetries; set => Set(ref _maxConflictRetries, value); }

    /// <summary>
    /// How long a turn's lease on its thread lasts in the store between renewals. A turn takes the lease before it reads the
    /// history and holds it through the model call until its commit, renewing it every third of this while the call runs
    /// (however long a streamed reply takes); a second turn on the thread, in any process, is refused
    /// (<see cref="ConflictHandling.Throw"/>) or waits (<see cref="ConflictHandling.WaitAndRetry"/>) before it calls the model.
    /// If the holder dies, the thread is free again after at most this long. <value>The default value is 2 minutes.</value>
    /// </summary>
    public TimeSpan TurnLease { get => _turnLease; set => Set(ref _turnLease, value); }

    /// <summary>
    /// What of the history each request carries, by name (the forms of <see cref="HistoryPolicies.Parse"/>: <c>default</c>,
    /// <c>keep-all</c>, <c>window:20/10</c>, <c>summarize:8000t/2000t</c> …), for configuration. <see cref="HistoryPolicy"/>
    /// wins when it is set. <value>The default value is "default": <see cref="DefaultPolicy"/>.</value>
    /// </summary>
    public string Policy { get => _policy; set => Set(ref _policy, value); }

    /// <summary>
    /// A history policy set in code (a custom <see cref="IHistoryPolicy"/>, or a configured one); when set, it is used instead
    /// of <see cref="Policy"/>. <value>The default value is null: <see cref="Policy"/> names the policy.</value>
    /// </summary>
    public IHistoryPolicy? HistoryPolicy { get => _historyPolicy; set => Set(ref _historyPolicy, value); }

    /// <summary>
    /// The cache-aware default policy: pins, a running summary and a window of the newest 12–35 messages that moves in steps
    /// of 24, so the prompt prefix stays cached between steps. The step was chosen by the 200-turn token-economy scenario
    /// (docs/benchmarks.md): larger steps mean fewer cache misses and fewer summaries, at the price of a larger window.
    /// </summary>
    public static IHistoryPolicy DefaultPolicy { get; } =
        new SummarizingPolicy(new SlidingWindowPolicy(new SlidingWindowOptions { Messages = 12, MessageStep = 24 }));

    /// <summary>
    /// The tool definitions sent with every turn: the API's <c>tools</c> array, verbatim (null: none). The model's tool
    /// calls are stored with its reply; answer them by sending a user message of tool_result blocks. The definitions
    /// count against the token budget and lead the cached prompt prefix. Set in code (configuration does not bind it);
    /// <see cref="TurnOptions.Tools"/> replaces it for one turn. <value>The default value is null.</value>
    /// </summary>
    /// <exception cref="ArgumentException">The value is not a JSON array.</exception>
    public JsonElement? Tools
    {
        get => _tools;
        set
        {
            var tools = RequestJson.Checked(value, JsonValueKind.Array, RequestJson.ToolsRule, nameof(value));
            Set(ref _tools, tools);
        }
    }

    /// <summary>The API's <c>tool_choice</c> object, verbatim (null: the API's default, auto). <value>The default value is null.</value></summary>
    /// <exception cref="ArgumentException">The value is not a JSON object.</exception>
    public JsonElement? ToolChoice
    {
        get => _toolChoice;
        set
        {
            var choice = RequestJson.Checked(value, JsonValueKind.Object, RequestJson.ToolChoiceRule, nameof(value));
            Set(ref _toolChoice, choice);
        }
    }

    /// <summary>
    /// Extended thinking (null: the model's default; models that think by default do). Written in each model's form: adaptive
    /// where the model takes it, a token budget where it only takes budgets. Thinking blocks are stored with their signatures
    /// (an empty text when the display is omitted) and sent back while the prompt before them is unchanged: always before the
    /// history is first cut, and within a tool loop (whose window stays put); after a cut, older ones are dropped, as the API
    /// no longer accepts them. <value>The default value is null.</value>
    /// </summary>
    public ThinkingOptions? Thinking { get => _thinking; set => Set(ref _thinking, value); }

    /// <summary>
    /// How much effort the model spends (<c>output_config.effort</c>: low, medium, high or max, as the model's table row
    /// allows), sent to models that take it; null leaves the API's default (high). On a model that thinks only with a
    /// budget, it sizes the budget of adaptive thinking instead. <value>The default value is null.</value>
    /// </summary>
    public string? Effort { get => _effort; set => Set(ref _effort, value); }

    /// <summary>Whether the first exchange of a conversation (and of each reset) is pinned when it is committed. <value>The default value is true.</value></summary>
    public bool PinFirstExchange { get => _pinFirstExchange; set => Set(ref _pinFirstExchange, value); }

    /// <summary>Whether requests carry prompt-cache breakpoints. <value>The default value is true.</value></summary>
    public bool PromptCaching { get => _promptCaching; set => Set(ref _promptCaching, value); }

    /// <summary>
    /// Whether turn spans carry the messages sent and received (<c>gen_ai.input.messages</c>, <c>gen_ai.output.messages</c>,
    /// <c>gen_ai.system_instructions</c>). Logs never do. <value>The default value is false.</value>
    /// </summary>
    public bool EnableSensitiveTelemetryData { get => _enableSensitiveTelemetryData; set => Set(ref _enableSensitiveTelemetryData, value); }

    /// <summary>The cache TTL of the breakpoints, "5m" or "1h". <value>The default value is "5m".</value></summary>
    public string CacheTtl { get => _cacheTtl; set => Set(ref _cacheTtl, value); }

    /// <summary>Tokens kept free besides max_tokens: budget = context window − max_tokens − margin. <value>The default value is 1024.</value></summary>
    public int SafetyMarginTokens { get => _safetyMarginTokens; set => Set(ref _safetyMarginTokens, value); }

    /// <summary>How full the context window may get before turns carry a warning (checked before the call). <value>The default value is 0.8.</value></summary>
    public double WarnAtFill { get => _warnAtFill; set => Set(ref _warnAtFill, value); }

    /// <summary>The model that writes summaries; null uses <see cref="Model"/>. <value>The default value is null.</value></summary>
    public string? SummaryModel { get => _summaryModel; set => Set(ref _summaryModel, value); }

    /// <summary>The longest summary, in tokens. <value>The default value is 1024.</value></summary>
    public int SummaryMaxTokens { get => _summaryMaxTokens; set => Set(ref _summaryMaxTokens, value); }

    /// <summary>Whether a ledger uses this instance, which makes it read-only.</summary>
    public bool IsReadOnly { get; private set; }

    /// <summary>
    /// What is wrong with these settings, one line per problem, each naming the setting first
    /// (<c>MaxTokens must be positive, not 0</c>); empty when they are valid. A configuration validator prefixes the
    /// section's path, so the message names the key to fix.
    /// </summary>
    public IReadOnlyList<string> Validate() => Problems().Select(p => p.Message).ToArray();

    /// <summary>The history policy these settings name.</summary>
    /// <exception cref="ArgumentException"><see cref="Policy"/> is not a policy name and no <see cref="HistoryPolicy"/> is set.</exception>
    public IHistoryPolicy ResolvePolicy() => HistoryPolicy ?? HistoryPolicies.Parse(Policy);

    /// <summary>A writable copy (of a read-only instance, say, to make another ledger with one setting changed).</summary>
    public LedgerOptions Clone()
    {
        var copy = (LedgerOptions)MemberwiseClone();
        copy.IsReadOnly = false;
        return copy;
    }

    internal IEnumerable<(string Setting, string Message, bool OutOfRange)> Problems()
    {
        if (string.IsNullOrWhiteSpace(Model))
        {
            yield return (nameof(Model), "Model must name a model, not be empty", false);
        }
        if (MaxTokens <= 0)
        {
            yield return (nameof(MaxTokens), string.Create(CultureInfo.InvariantCulture, $"MaxTokens must be positive, not {MaxTokens}"), true);
        }
        if (MaxConflictRetries < 0)
        {
            yield return (nameof(MaxConflictRetries), string.Create(CultureInfo.InvariantCulture, $"MaxConflictRetries must not be negative, not {MaxConflictRetries}"), true);
        }
        if (TurnLease < TimeSpan.FromSeconds(1))
        {
            yield return (nameof(TurnLease), string.Create(CultureInfo.InvariantCulture, $"TurnLease must be at least 1 second, not {TurnLease}"), true);
        }
        if (HistoryPolicy is null)
        {
            if (!HistoryPolicies.TryParse(Policy, out _, out var error))
            {
                yield return (nameof(Policy), string.IsNullOrWhiteSpace(Policy) ? $"Policy must name a history policy ({HistoryPolicies.Forms})" : $"Policy: {error}", false);
            }
        }
        foreach (var problem in ThinkingProblems(Thinking, nameof(Thinking)))
        {
            yield return (nameof(Thinking), problem, false);
        }
        if (EffortProblem(Effort, nameof(Effort)) is { } effort)
        {
            yield return (nameof(Effort), effort, false);
        }
        if (CacheTtl is not ("5m" or "1h"))
        {
            yield return (nameof(CacheTtl), $"CacheTtl must be 5m or 1h, not '{CacheTtl}'", false);
        }
        if (SafetyMarginTokens < 0)
        {
            yield return (nameof(SafetyMarginTokens), string.Create(CultureInfo.InvariantCulture, $"SafetyMarginTokens must not be negative, not {SafetyMarginTokens}"), true);
        }
        if (!(WarnAtFill > 0 && WarnAtFill <= 1))
        {
            yield return (nameof(WarnAtFill), string.Create(CultureInfo.InvariantCulture, $"WarnAtFill must be above 0 and at most 1, not {WarnAtFill}"), true);
        }
        if (SummaryMaxTokens <= 0)
        {
            yield return (nameof(SummaryMaxTokens), string.Create(CultureInfo.InvariantCulture, $"SummaryMaxTokens must be positive, not {SummaryMaxTokens}"), true);
        }
    }

    internal static IEnumerable<string> ThinkingProblems(ThinkingOptions? thinking, string name)
    {
        if (thinking is null)
        {
            yield break;
        }
        if (thinking.Mode == ThinkingMode.Budget && thinking.BudgetTokens < ThinkingOptions.MinBudgetTokens)
        {
            yield return string.Create(CultureInfo.InvariantCulture,
                $"{name}:BudgetTokens must be at least {ThinkingOptions.MinBudgetTokens} in budget mode, not {thinking.BudgetTokens} (thinking budget {thinking.BudgetTokens} is below the API's minimum of {ThinkingOptions.MinBudgetTokens} tokens)");
        }
        if (thinking.Display is not (null or "summarized" or "omitted"))
        {
            yield return $"{name}:Display must be summarized or omitted, not '{thinking.Display}'";
        }
    }

    internal static string? EffortProblem(string? effort, string name) =>
        effort is null or "low" or "medium" or "high" or "max" ? null : $"{name} must be one of low, medium, high, max, not '{effort}' (effort '{effort}' is not one of low, medium, high, max)";

    internal void MakeReadOnly() => IsReadOnly = true;

    private void Set<T>(ref T field, T value)
    {
        if (IsReadOnly)
        {
            throw new InvalidOperationException(
                "these LedgerOptions are used by a ledger and can no longer change; pass TurnOptions to change one turn, or Clone() them for another ledger");
        }
        field = value;
    }
}
