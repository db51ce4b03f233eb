using System.Text.Json;

namespace ConversationLedger;

/// <summary>
/// Settings for one turn, over the ledger's <see cref="LedgerOptions"/> (as <c>ChatOptions</c> are over a chat client's
/// defaults): each property left null keeps the ledger's setting. Passed to <see cref="Conversation.SendAsync(Message, TurnOptions?, CancellationToken)"/>,
/// <see cref="Conversation.StreamAsync(Message, TurnOptions?, CancellationToken)"/> and <see cref="Conversation.PreviewAsync(Message, TurnOptions?, CancellationToken)"/>.
/// Checked when the turn starts; nothing is sent or stored when they are invalid.
/// </summary>
public sealed record TurnOptions
{
    /// <summary>The model id for this turn. <value>The default value is null: <see cref="LedgerOptions.Model"/>.</value></summary>
    public string? Model { get; init; }

    /// <summary>The most tokens the reply may have. <value>The default value is null: <see cref="LedgerOptions.MaxTokens"/>.</value></summary>
    public int? MaxTokens { get; init; }

    /// <summary>What of the history this request carries. <value>The default value is null: the ledger's policy.</value></summary>
    public IHistoryPolicy? Policy { get; init; }

    /// <summary>Extended thinking for this turn (<see cref="ThinkingOptions.Off"/> turns it off). <value>The default value is null: <see cref="LedgerOptions.Thinking"/>.</value></summary>
    public ThinkingOptions? Thinking { get; init; }

    /// <summary>Effort: low, medium, high or max. <value>The default value is null: <see cref="LedgerOptions.Effort"/>.</value></summary>
    public string? Effort { get; init; }

    /// <summary>The API's <c>tools</c> array for this turn, verbatim. <value>The default value is null: <see cref="LedgerOptions.Tools"/>.</value></summary>
    public JsonElement? Tools { get; init; }

    /// <summary>The API's <c>tool_choice</c> object for this turn, verbatim. <value>The default value is null: <see cref="LedgerOptions.ToolChoice"/>.</value></summary>
    public JsonElement? ToolChoice { get; init; }

    /// <summary>
    /// The id the turn's entries carry (<see cref="LedgerEntry.TurnId"/>), so a caller that lost track of a turn (a crashed
    /// service instance, a retried request) can find whether it was committed. At most 64 letters, digits, '-' or '_'.
    /// <value>The default value is null: a new GUID (version 7).</value>
    /// </summary>
    public string? TurnId { get; init; }
}

/// <summary>
/// The services a <see cref="Ledger"/> works with besides its store and model client: the model table, the local token
/// counter and the calibration it learns from real usage. Apart from <see cref="LedgerOptions"/> because they are objects
/// with behaviour and state, not settings.
/// </summary>
public sealed record LedgerServices
{
    /// <summary>The model table (limits, prices, capabilities). <value>The default value is <see cref="ModelCatalog.Default"/>.</value></summary>
    public ModelCatalog Models { get; init; } = ModelCatalog.Default;

    /// <summary>Local token estimates for entries and requests. <value>The default value is the o200k estimator.</value></summary>
    public ITokenCounter TokenCounter { get; init; } = O200kTokenCounter.Instance;

    /// <summary>
    /// Learned per-model factors between the local estimate and the API's counts; share one between ledgers that talk to
    /// the same models. <value>The default value is null: each ledger learns its own, starting from <see cref="Models"/>.</value>
    /// </summary>
    public TokenCalibration? Calibration { get; init; }

    /// <summary>
    /// Where the ledger logs: one line per stored turn, and lines for summaries, conflicts, retries and failed calls (never
    /// message text or keys; event ids in <see cref="LedgerDiagnostics"/>). <value>The default value is null: no logging.</value>
    /// </summary>
    public Microsoft.Extensions.Logging.ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>
    /// Creates the ledger's <see cref="System.Diagnostics.Metrics.Meter"/> (named <see cref="LedgerDiagnostics.Name"/>).
    /// <value>The default value is null: a meter shared by the process's ledgers.</value>
    /// </summary>
    public System.Diagnostics.Metrics.IMeterFactory? MeterFactory { get; init; }
}

/// <summary>A turn's effective settings: the ledger's options with the turn's overrides applied, checked.</summary>
internal sealed record TurnSettings(
    string Model,
    int MaxTokens,
    IHistoryPolicy Policy,
    ThinkingOptions? Thinking,
    string? Effort,
    JsonElement? Tools,
    JsonElement? ToolChoice,
    string? TurnId = null)
{
    /// <summary>The tool definitions' JSON text as sent (kept once, so counting its tokens reads no JSON per turn).</summary>
    public string? ToolsJson { get; } = Tools?.GetRawText();

    public static TurnSettings From(LedgerOptions options, IHistoryPolicy policy) =>
        new(options.Model, options.MaxTokens, policy, options.Thinking, options.Effort, options.Tools, options.ToolChoice);

    /// <exception cref="ArgumentException">An override is invalid, naming it.</exception>
    public TurnSettings With(TurnOptions? turn)
    {
        if (turn is null)
        {
            return this;
        }
        if (turn.Model is { } model && string.IsNullOrWhiteSpace(model))
        {
            throw new ArgumentException("TurnOptions.Model must name a model, not be empty", "options");
        }
        if (turn.MaxTokens is <= 0)
        {
            throw new ArgumentOutOfRangeException("options", turn.MaxTokens, $"TurnOptions.MaxTokens must be positive, not {turn.MaxTokens}");
        }
        if (LedgerOptions.ThinkingProblems(turn.Thinking, "TurnOptions.Thinking").FirstOrDefault() is { } thinking)
        {
            throw new ArgumentException(thinking, "options");
        }
        if (LedgerOptions.EffortProblem(turn.Effort, "TurnOptions.Effort") is { } effort)
        {
            throw new ArgumentException(effort, "options");
        }
        if (turn.TurnId is { } id && (id.Length is 0 or > 64 || !id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_')))
        {
            throw new ArgumentException("TurnOptions.TurnId must be 1 to 64 letters, digits, '-' or '_'", "options");
        }
        return new TurnSettings(
            turn.Model ?? Model,
            turn.MaxTokens ?? MaxTokens,
            turn.Policy ?? Policy,
            turn.Thinking ?? Thinking,
            turn.Effort ?? Effort,
            turn.Tools is { } tools ? RequestJson.Checked(tools, JsonValueKind.Array, RequestJson.ToolsRule, "options") : Tools,
            turn.ToolChoice is { } choice ? RequestJson.Checked(choice, JsonValueKind.Object, RequestJson.ToolChoiceRule, "options") : ToolChoice,
            turn.TurnId);
    }

    /// <summary>Whether requests to <paramref name="model"/> think: thinking asked for, or not turned off on a model that thinks by default.</summary>
    public bool ThinksOn(ModelInfo model) => Thinking is null ? model.ThinksByDefault : Thinking.Mode != ThinkingMode.Off;
}

internal static class RequestJson
{
    public const string ToolsRule = "tools must be a JSON array of tool definitions";
    public const string ToolChoiceRule = """tool_choice must be a JSON object such as {"type":"auto"}""";

    // A request field of the expected JSON kind (or null), written as sent (no indentation) so the local token estimate
    // counts what the API will count.
    public static JsonElement? Checked(JsonElement? value, JsonValueKind kind, string rule, string parameter) => value switch
    {
        null => null,
        { ValueKind: var actual } when actual != kind => throw new ArgumentException($"{rule}, not {actual}", parameter),
        { } json => JsonSerializer.SerializeToElement(json),
    };
}
