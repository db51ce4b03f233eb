namespace ConversationLedger;

/// <summary>
/// Turns a policy's selection and the new message into the request to send: the one place where the system
/// prompt becomes a system block, the summary is put in front of the first message after the pins, thinking
/// blocks are dropped after a cut, cache breakpoints are placed, and the request is fitted into the token budget.
/// Order and breakpoints follow how often things change: the system prompt (breakpoint) and the pinned turns
/// (breakpoint) change almost never; the summary and the window change when the window steps; the new message
/// (breakpoint) every turn — so between steps the whole previous request is read from the cache, and at a step
/// the system prompt and pins still are.
/// </summary>
internal sealed class RequestBuilder(LedgerOptions options, ModelCatalog models, TokenCalibration calibration, ITokenCounter counter)
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> _textTokens = new(StringComparer.Ordinal);
    private readonly TurnSettings _defaults = TurnSettings.From(options, options.ResolvePolicy());

    /// <summary>A builder with the default model table, a fresh calibration and the built-in counter.</summary>
    public RequestBuilder(LedgerOptions options, ModelCatalog? models = null)
        : this(options, models ?? ModelCatalog.Default, new TokenCalibration(models ?? ModelCatalog.Default), O200kTokenCounter.Instance)
    {
    }

    public PreparedRequest Build(ConversationView view, HistorySelection selection, Message next, int nextTokens, TurnSettings? turn = null)
    {
        turn ??= _defaults;
        var model = models.Get(turn.Model);
        var (thinking, outputConfig) = ThinkingOptions.ForModel(turn.Thinking, turn.Effort, model, turn.MaxTokens);
        var budget = model.ContextWindow - turn.MaxTokens - options.SafetyMarginTokens;
        var systemTokens = MidConversationChange(view, model, selection) is { } planned
            ? (planned.Previous!.Length > 0 ? TextTokens(planned.Previous) : 0) + TextTokens(SystemMessageText(planned))
            : view.SystemPrompt is { } s ? TextTokens(s) : 0;
        var fitted = Fit(selection, next, nextTokens, systemTokens, budget, model.Id, turn.ToolsJson, out var parts, out var estimate);
        if (estimate > budget)
        {
            throw new ContextBudgetExceededException(estimate, budget, HistoryUnits.IsTurnStart(next)
                ? "the new message alone does not fit: shorten it, lower max_tokens, or pick a model with a larger window"
                : "the tool result and the call it answers do not fit: shorten the result, lower max_tokens, or pick a model with a larger window");
        }

        var breakpoints = new List<string>();
        var ttl = options.PromptCaching ? options.CacheTtl : null;
        var change = MidConversationChange(view, model, fitted);
        var system = new List<ContentBlock>();
        if ((change is null ? view.SystemPrompt : change.Previous) is { Length: > 0 } prompt)
        {
            system.Add(Mark(ContentBlock.CreateText(prompt), ttl, breakpoints, "after the system prompt"));
        }

        var keepThinkingFrom = fitted.IsCut || fitted.Pinned.Count > 0 ? LoopStart(fitted, next, model, turn) : 0;
        // Replies written before the system prompt changed (on top) or a message was edited were signed over the prompt as it was.
        var changedAt = change is null ? view.PromptChangedAt : view.EditedAt;
        var messages = fitted.Messages
            .Select((m, i) => i < keepThinkingFrom || m.Sequence < changedAt ? WithoutThinking(m.Message) : m.Message)
            .ToList();
        if (fitted.Pinned.Count > 0)
        {
            var last = fitted.Pinned.Count - 1;
            messages[last] = MarkLastBlock(messages[last], ttl, breakpoints, $"after the pinned messages (entry {fitted.Pinned[^1].Sequence})");
        }
        messages.Add(next);
        var first = fitted.Pinned.Count;
        var leadInAt = -1;
        if (LeadIn(fitted) is { } leadIn)
        {
            // The window was cut inside a tool loop and starts with an assistant message: a user message must come first.
            messages.Insert(leadInAt = first, new Message(Role.User, [ContentBlock.CreateText(leadIn)]));
        }
        else if (fitted.Summary is { } summary)
        {
            // The first message after the pins is a turn start (a user message answering no tool call), so a text block may lead it.
            messages[first] = new Message(Role.User, [ContentBlock.CreateText(SummaryBlockText(summary)), .. messages[first].Content]);
        }
        if (change is not null)
        {
            // Right after the first message sent since the change (the user message of the turn it took effect at), else last.
            var after = fitted.Messages.ToList().FindIndex(m => m.Sequence > change.Sequence);
            var at = after < 0 ? messages.Count : after + 1 + (leadInAt >= 0 && after >= leadInAt ? 1 : 0);
            messages.Insert(at, new Message(Role.System, [ContentBlock.CreateText(SystemMessageText(change))]));
        }
        // The last breakpoint ends the request, so the next turn reads all of it (a system message sent last included).
        messages[^1] = MarkLastBlock(messages[^1], ttl, breakpoints, messages[^1].Role == Role.System ? "on the new system message, after the new message" : "on the new message");

        var request = new ModelRequest
        {
            Model = turn.Model,
            MaxTokens = turn.MaxTokens,
            System = system,
            Messages = messages,
            Tools = turn.Tools,
            ToolChoice = turn.ToolChoice,
            Thinking = thinking,
            OutputConfig = outputConfig,
        };
        return new PreparedRequest
        {
            Request = request,
            Selection = fitted,
            Parts = parts,
            EstimatedInputTokens = estimate,
            ContextWindow = model.ContextWindow,
            Budget = budget,
            Breakpoints = ttl is null ? [] : breakpoints,
            UncachedInputCostUsd = estimate * model.InputPerMTok / 1_000_000m,
        };
    }

    /// <summary>The text the model sees for a summary.</summary>
    public static string SummaryBlockText(SummaryEntry summary) =>
        $"<conversation-summary entries=\"{summary.FromSequence}-{summary.ThroughSequence}\">\n{summary.Text}\n</conversation-summary>";

    /// <summary>The user message that leads a window cut inside a tool loop: the summary, or a note that earlier messages are left out.</summary>
    private static string? LeadIn(HistorySelection selection) =>
        selection.Window is [{ Message.Role: var role } first, ..] && role == Role.Assistant
            ? selection.Summary is { } summary
                ? SummaryBlockText(summary)
                : $"<conversation-omitted through-entry=\"{first.Sequence - 1}\">Earlier messages of this conversation are left out to fit the context window; the work continues below.</conversation-omitted>"
            : null;

    // Drops whole turns from the oldest end of the window (inside a tool loop, whole call-and-result steps, never the call the new
    // message answers), then pins, then the summary, until the request fits. The tool loop the new message continues goes
    // last: its question's request dropped window, pins and summary in this order, so the loop keeps the prompt before its
    // replies (and their thinking) as long as it fits.
    private HistorySelection Fit(HistorySelection selection, Message next, int nextTokens, long systemTokens, long budget,
        string model, string? toolsJson, out RequestParts parts, out long estimate)
    {
        var toolTokens = toolsJson is { } tools ? CachedCount(tools) : 0;
        var current = selection;
        while (true)
        {
            parts = new RequestParts(
                systemTokens,
                LeadIn(current) is { } leadIn ? TextTokens(leadIn) : current.Summary is { } summary ? TextTokens(SummaryBlockText(summary)) : 0,
                HistoryUnits.Tokens(current.Pinned),
                HistoryUnits.Tokens(current.Window),
                nextTokens,
                toolTokens);
            estimate = calibration.Scale(model, parts.Total);
            if (estimate <= budget)
            {
                return current;
            }
            // Before the loop the new message continues, the window is cut where its question's request cut it.
            var units = HistoryUnits.Of(current.Window);
            var before = units.BeforeLoop(next);
            var cut = units.NextCut(before > 0 ? before : current.Window.Count);
            var intoLoop = before == 0 && cut < current.Window.Count;
            if (before > 0 || (intoLoop && current.Pinned.Count == 0 && current.Summary is null))
            {
                var dropped = current.Window.Take(cut).ToArray();
                current = current with
                {
                    Window = current.Window.Skip(cut).ToArray(),
                    Omitted = [.. current.Omitted, new Omission(dropped[0].Sequence, dropped[^1].Sequence, dropped.Length, "dropped to fit the token budget")],
                };
            }
            else if (current.Pinned.Count > 0)
            {
                current = current with
                {
                    Pinned = [],
                    Omitted = [.. current.Omitted, new Omission(current.Pinned[0].Sequence, current.Pinned[^1].Sequence, current.Pinned.Count, "pinned, but dropped to fit the token budget")],
                };
            }
            else if (current.Summary is not null)
            {
                current = current with { Summary = null };
            }
            else
            {
                return current;
            }
        }
    }

    // A text block: its text plus the block's framing.
    private int TextTokens(string text) => CachedCount(text) + 1;

    private int CachedCount(string text)
    {
        if (_textTokens.TryGetValue(text, out var tokens))
        {
            return tokens;
        }
        if (_textTokens.Count > 4096)
        {
            _textTokens.Clear(); // a bound, not an eviction policy: system prompts, tools and summaries repeat a lot
        }
        return _textTokens[text] = counter.CountText(text);
    }

    private static ContentBlock Mark(ContentBlock block, string? ttl, List<string> breakpoints, string where)
    {
        if (ttl is null)
        {
            return block;
        }
        breakpoints.Add(where);
        return block.WithCacheControl(ttl);
    }

    private static Message MarkLastBlock(Message message, string? ttl, List<string> breakpoints, string where)
    {
        if (ttl is null || message.Content.Count == 0)
        {
            return message;
        }
        var blocks = message.Content.ToArray();
        blocks[^1] = Mark(blocks[^1], ttl, breakpoints, where);
        return new Message(message.Role, blocks);
    }

    // Where thinking blocks may stay in a cut history. Pins count as a cut even when they fill the whole gap before the
    // window: the replies between were written for requests that did leave messages out (the window moved past them
    // first). With thinking on, the API wants the replies of the tool loop the new message continues back with their
    // thinking; the window stays put through a loop, so the prompt before them is usually the one they were written for
    // (when it is not, the API refuses them either way). Elsewhere, after a cut, the prompt before older thinking blocks
    // has changed: they go.
    private static int LoopStart(HistorySelection selection, Message next, ModelInfo model, TurnSettings turn) =>
        selection.Pinned.Count + (turn.ThinksOn(model) ? HistoryUnits.Of(selection.Window).BeforeLoop(next) : selection.Window.Count);

    // On models that take mid-conversation system messages, a prompt set while the window still holds messages from
    // before it goes as a system message at the turn it took effect, and the prompt it replaced stays on top: the cached
    // prefix before the change (and the thinking signed over it) stays valid. Once the window has moved past the change
    // (a step, when the prefix changes anyway) the new prompt goes on top, so no request carries both for long. A cleared
    // prompt, or one whose predecessor is not recorded, changes the top-level system prompt at once.
    private static SystemPromptEntry? MidConversationChange(ConversationView view, ModelInfo model, HistorySelection selection) =>
        model.SupportsSystemMessages && view.SystemPromptSet is { Text.Length: > 0, Previous: not null } change
            && selection.Window.Any(m => m.Sequence < change.Sequence)
            ? change
            : null;

    // What the system message says: a prompt that extends the one before it sends only what was added.
    private static string SystemMessageText(SystemPromptEntry change) =>
        change.Previous is { Length: > 0 } previous && change.Text.StartsWith(previous, StringComparison.Ordinal)
            && change.Text.Length > previous.Length && !string.IsNullOrWhiteSpace(change.Text[previous.Length..])
            ? change.Text[previous.Length..].Trim()
            : change.Text;

    // Once history is cut, the prefix a thinking block was signed over has changed; the API rejects such blocks.
    private static Message WithoutThinking(Message message) =>
        message.Role == Role.Assistant && message.Content.Any(b => b.IsThinking)
            ? new Message(message.Role, message.Content.Where(b => !b.IsThinking).ToArray())
            : message;
}
