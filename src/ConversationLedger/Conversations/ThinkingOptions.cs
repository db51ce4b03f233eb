using System.Text.Json;

namespace ConversationLedger;

/// <summary>How a turn asks the model to think.</summary>
public enum ThinkingMode
{
    /// <summary>Adaptive thinking: the model decides how much to think, guided by <see cref="LedgerOptions.Effort"/>.</summary>
    Adaptive,

    /// <summary>The manual form with a fixed token budget, for the models that still take it (Haiku 4.5, the 4.6 models and older).</summary>
    Budget,

    /// <summary>No up-front thinking, only between tool calls (<c>{"type":"between_tools"}</c>, Sonnet 5.5).</summary>
    BetweenTools,

    /// <summary>No thinking (<c>{"type":"disabled"}</c>; models that always think refuse it).</summary>
    Off,
}

/// <summary>
/// Extended thinking, said once for every model: the ledger writes it in the chosen model's form (see
/// <see cref="ModelInfo.ThinkingForms"/>). Adaptive thinking is sent as <c>{"type":"adaptive"}</c> to models that take it
/// and as a token budget sized by the effort to models that only take budgets; a fixed budget is sent as asked, and a
/// model that refuses budgets refuses it before anything is sent, with the API's wording.
/// </summary>
public sealed record ThinkingOptions
{
    /// <summary>The smallest budget the API takes.</summary>
    public const int MinBudgetTokens = 1024;

    /// <summary>Adaptive or a fixed budget. <value>The default value is <see cref="ThinkingMode.Adaptive"/>.</value></summary>
    public ThinkingMode Mode { get; init; } = ThinkingMode.Adaptive;

    /// <summary>The budget of <see cref="ThinkingMode.Budget"/>, at least 1,024 and below max_tokens. <value>The default value is 0 (unset).</value></summary>
    public int BudgetTokens { get; init; }

    /// <summary>
    /// What adaptive thinking returns: "summarized" (readable thinking) or "omitted" (an empty thinking text whose signature
    /// still carries the reasoning; the reply starts sooner). Null takes the model's default. <value>The default value is null.</value>
    /// </summary>
    public string? Display { get; init; }

    /// <summary>Adaptive thinking with the model's default display.</summary>
    public static ThinkingOptions Adaptive { get; } = new();

    /// <summary>No thinking.</summary>
    public static ThinkingOptions Off { get; } = new() { Mode = ThinkingMode.Off };

    /// <summary>Thinking with a fixed budget (the manual form).</summary>
    public static ThinkingOptions WithBudget(int budgetTokens) => new() { Mode = ThinkingMode.Budget, BudgetTokens = budgetTokens };

    /// <summary>Checks the settings alone (the model's own rules are checked per request).</summary>
    /// <exception cref="ArgumentException">A budget below 1,024 in budget mode, or a display other than summarized/omitted.</exception>
    public void Validate()
    {
        if (Mode == ThinkingMode.Budget && BudgetTokens < MinBudgetTokens)
        {
            throw new ArgumentException($"thinking budget {BudgetTokens} is below the API's minimum of {MinBudgetTokens} tokens", nameof(BudgetTokens));
        }
        if (Display is not (null or "summarized" or "omitted"))
        {
            throw new ArgumentException($"thinking display '{Display}' is not one of summarized, omitted", nameof(Display));
        }
    }

    // Budgets adaptive thinking becomes on a model that only takes budgets, by effort (the API's default effort is high).
    private static int BudgetForEffort(string? effort) => effort switch
    {
        "low" => 1024,
        "medium" => 4096,
        "max" => 32_000,
        _ => 16_000,
    };

    /// <summary>
    /// The request's <c>thinking</c> and <c>output_config</c> objects for <paramref name="model"/>: this setting (null: no
    /// thinking asked for) in the form the model takes, and the effort where the model takes one.
    /// </summary>
    public static (JsonElement? Thinking, JsonElement? OutputConfig) ForModel(ThinkingOptions? thinking, string? effort, ModelInfo model, int maxTokens)
    {
        JsonElement? outputConfig = effort is not null && model.EffortLevels.Count > 0
            ? JsonSerializer.SerializeToElement(new { effort })
            : null;
        switch (thinking?.Mode)
        {
            case null:
                return (null, outputConfig);
            case ThinkingMode.Off:
                return (JsonSerializer.SerializeToElement(new { type = "disabled" }), outputConfig);
            case ThinkingMode.BetweenTools:
                return (JsonSerializer.SerializeToElement(new { type = "between_tools" }), outputConfig);
        }
        if (thinking.Mode == ThinkingMode.Adaptive && model.TakesThinking("adaptive"))
        {
            return (thinking.Display is { } display
                ? JsonSerializer.SerializeToElement(new { type = "adaptive", display })
                : JsonSerializer.SerializeToElement(new { type = "adaptive" }), outputConfig);
        }
        // A budget as asked (a model without budgets refuses it with the API's words), or adaptive on a budget-only model.
        // (Half of max_tokens at most, so the answer keeps room.)
        var budget = thinking.Mode == ThinkingMode.Budget ? thinking.BudgetTokens : Math.Min(BudgetForEffort(effort), maxTokens / 2);
        if (budget < MinBudgetTokens || budget >= maxTokens)
        {
            throw new ArgumentException(
                $"{model.Id} takes thinking as a token budget of at least {MinBudgetTokens} (at most half of max_tokens for adaptive thinking); with max_tokens {maxTokens} that is impossible: raise max_tokens (e.g. to {MinBudgetTokens * 4})",
                nameof(maxTokens));
        }
        // Effort on a budget-only model sized the budget; the model takes no output_config effort of its own unless the table says so.
        return (JsonSerializer.SerializeToElement(new { type = "enabled", budget_tokens = budget }), outputConfig);
    }
}
