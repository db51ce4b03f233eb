using System.ComponentModel;
using ConversationLedger.Cli.Chat;
using ConversationLedger.Cli.Hosting;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ConversationLedger.Cli.Commands;

/// <summary><c>ledger chat</c>: the conversation loop, on a thread that persists.</summary>
[Description("Chat in a thread: replies stream as they arrive; the thread is resumed when it exists")]
public sealed class ChatCommand(CliServices services) : LedgerCommand<ChatCommand.Settings>(services)
{
    /// <summary>Options of <c>ledger chat</c>.</summary>
    public sealed class Settings : LedgerSettings
    {
        /// <summary>The thread to talk in; resumed if it exists.</summary>
        [CommandOption("-t|--thread <ID>")]
        [Description("The thread to talk in; resumed when it exists")]
        [DefaultValue("default")]
        public string Thread { get; set; } = "default";

        /// <summary>The most tokens a reply may have.</summary>
        [CommandOption("--max-tokens <N>")]
        [Description("The most tokens a reply may have (default 1024; a thinking budget comes on top)")]
        public int? MaxTokens { get; set; }

        /// <summary>The system prompt, or @file to read it from a file.</summary>
        [CommandOption("--system <TEXT>")]
        [Description("Sets the system prompt (TEXT or @file); a change is recorded in the ledger")]
        public string? System { get; set; }

        /// <summary>Extended thinking: adaptive, off, between-tools or a token budget (null: the model's default).</summary>
        [CommandOption("--thinking <MODE>")]
        [Description("Thinking: adaptive, off, between-tools, or a token budget (at least 1024, for models that take budgets); default: the model's own. Thinking streams dimly before each reply")]
        public string? Thinking { get; set; }

        /// <summary>The effort level (output_config.effort).</summary>
        [CommandOption("--effort <LEVEL>")]
        [Description("How much effort the model spends: low, medium, high or max (as the model allows); default: the API's (high)")]
        public string? Effort { get; set; }

        /// <summary>What adaptive thinking shows.</summary>
        [CommandOption("--thinking-display <DISPLAY>")]
        [Description("What adaptive thinking returns: summarized (readable) or omitted (signature only; the reply starts sooner); default: the model's")]
        public string? ThinkingDisplay { get; set; }

        /// <summary>The thinking setting these options ask for, or null for the model's default.</summary>
        public ThinkingOptions? ThinkingOptions() => Thinking?.ToLowerInvariant() switch
        {
            null when ThinkingDisplay is null => null,
            null or "adaptive" => new ThinkingOptions { Display = ThinkingDisplay },
            "off" => ConversationLedger.ThinkingOptions.Off,
            "between-tools" => new ThinkingOptions { Mode = ThinkingMode.BetweenTools },
            var budget => ConversationLedger.ThinkingOptions.WithBudget(int.Parse(budget, global::System.Globalization.CultureInfo.InvariantCulture)),
        };
    }

    /// <inheritdoc />
    protected override ValidationResult ValidateMore(Settings settings) =>
        CheckId(settings.Thread, "thread")
        ?? (settings.System is ['@', .. var path] && !File.Exists(path) ? ValidationResult.Error($"--system {settings.System}: no such file")
            : settings.MaxTokens is <= 0 ? ValidationResult.Error($"--max-tokens {settings.MaxTokens}: give a positive number of tokens")
            : CheckThinking(settings) is { } error ? ValidationResult.Error(error)
            : ValidationResult.Success());

    private static string? CheckThinking(Settings settings)
    {
        if (settings.Thinking?.ToLowerInvariant() is { } mode && mode is not ("adaptive" or "off" or "between-tools"))
        {
            if (!int.TryParse(mode, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var budget))
            {
                return $"--thinking {settings.Thinking}: say adaptive, off, between-tools or a token budget";
            }
            if (budget < ThinkingOptions.MinBudgetTokens)
            {
                return $"--thinking {settings.Thinking}: the API's smallest thinking budget is {ThinkingOptions.MinBudgetTokens} tokens";
            }
        }
        if (settings.Effort is { } effort && effort is not ("low" or "medium" or "high" or "max"))
        {
            return $"--effort {effort}: say low, medium, high or max";
        }
        return settings.ThinkingDisplay is { } display && display is not ("summarized" or "omitted")
            ? $"--thinking-display {display}: say summarized or omitted"
            : null;
    }

    /// <inheritdoc />
    protected override async Task<int> RunAsync(Settings settings, CancellationToken cancellationToken)
    {
        var system = settings.System is ['@', .. var path] ? (await File.ReadAllTextAsync(path, cancellationToken)).Trim() : settings.System;
        await using var session = await OpenAsync(settings, withModel: true, cancellationToken);
        var ledger = session.Ledger;
        var store = CliDefaults.Store(settings.Store, Services.Environment);
        ThreadFiles FilesOf(ThreadKey key) => ThreadFiles.For(store, Services.Environment, key);
        var files = FilesOf(session.Key(settings.Thread));
        var (policy, model) = Remembered(settings, files, ledger);
        var thinking = settings.ThinkingOptions();
        var turn = new TurnOptions
        {
            Policy = policy,
            Model = model,
            Thinking = thinking,
            Effort = settings.Effort,
            // A budget is part of max_tokens: leave the usual room for the answer on top of it.
            MaxTokens = (settings.MaxTokens ?? ledger.Options.MaxTokens) + (thinking is { Mode: ThinkingMode.Budget, BudgetTokens: var budget } ? budget : 0),
        };
        if (ModelRules.CheckSettings(ledger.Models.Get(turn.Model ?? ledger.Options.Model), turn.Thinking, turn.Effort, turn.MaxTokens ?? ledger.Options.MaxTokens) is { } refusal)
        {
            // What the model would refuse on every turn is refused now, in the API's words.
            throw new LedgerValidationException([refusal]);
        }
        await new ChatSession(Services, session, settings.Thread, turn) { Files = FilesOf, Store = store }.RunAsync(system, cancellationToken);
        return 0;
    }

    // The policy and model chosen for the thread last time (/policy, /model, or the options) apply when neither the
    // options nor the environment name one; what the options name is remembered for next time.
    private (IHistoryPolicy? Policy, string? Model) Remembered(Settings settings, ThreadFiles files, Ledger ledger)
    {
        var remembered = files.ReadSettings();
        var chosenPolicy = !string.IsNullOrWhiteSpace(settings.Policy) ? settings.Policy : null;
        var chosenModel = !string.IsNullOrWhiteSpace(settings.Model) ? settings.Model : null;
        if (chosenPolicy is not null || chosenModel is not null)
        {
            files.WriteSettings(remembered with { Policy = chosenPolicy ?? remembered.Policy, Model = chosenModel ?? remembered.Model });
        }
        IHistoryPolicy? policy = null;
        string? model = null;
        var notes = new List<string>();
        if (chosenPolicy is null && Services.Environment("LEDGER_POLICY") is not { Length: > 0 } && remembered.Policy is { } policyName)
        {
            try
            {
                policy = HistoryPolicies.Parse(policyName);
                notes.Add("policy " + policyName);
            }
            catch (ArgumentException)
            {
                // A remembered name this version cannot read: the default applies.
            }
        }
        if (chosenModel is null && Services.Environment("LEDGER_MODEL") is not { Length: > 0 } && remembered.Model is { } modelId
            && modelId != ledger.Options.Model && ledger.Models.TryGet(modelId, out _))
        {
            model = modelId;
            notes.Add("model " + modelId);
        }
        if (notes.Count > 0)
        {
            Console.MarkupLine($"[dim]as chosen last time in this thread: {Markup.Escape(string.Join(", ", notes))} (--policy and --model choose others)[/]");
        }
        return (policy, model);
    }
}
