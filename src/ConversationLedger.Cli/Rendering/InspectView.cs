using System.Text.Json;
using Spectre.Console;

namespace ConversationLedger.Cli.Rendering;

/// <summary>How <c>ledger inspect</c> and the chat's <c>/inspect</c> show the request the next turn would send.</summary>
public static class InspectView
{
    /// <summary>
    /// The next request a turn would send (prepared by the conversation itself, policy and all): the tokens of each
    /// part, what was left out, the cache breakpoints, the share of the context window and the cost estimate, then
    /// its JSON body indented — or, <paramref name="raw"/>, only the body, byte for byte as it would be sent.
    /// </summary>
    /// <param name="console">Where to write.</param>
    /// <param name="prepared">The request, as <see cref="Conversation.PreviewAsync(Message, TurnOptions?, CancellationToken)"/> prepared it for <paramref name="nextMessage"/>.</param>
    /// <param name="ledger">The ledger (its model table prices the output; its settings say when to warn).</param>
    /// <param name="policy">The history policy the request was prepared with.</param>
    /// <param name="nextMessage">The user message the request ends with.</param>
    /// <param name="raw">Whether to write only the body.</param>
    /// <param name="cancellationToken">Stops a long table between its parts.</param>
    public static void Write(IAnsiConsole console, PreparedRequest prepared, Ledger ledger, IHistoryPolicy policy, string nextMessage, bool raw,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(prepared);
        ArgumentNullException.ThrowIfNull(ledger);
        ArgumentNullException.ThrowIfNull(policy);
        if (raw)
        {
            Output.WriteRaw(console, prepared.ToJson() + "\n");
            return;
        }
        var request = prepared.Request;
        var parts = prepared.Parts;

        var table = new TextTable().Text("part").Figure("tokens (estimate)");
        if (parts.Tools > 0)
        {
            table.Row("tool definitions", Formats.Count(parts.Tools));
        }
        table.Row("system prompt", Formats.Count(parts.System));
        if (prepared.Selection.Summary is { } summary)
        {
            table.Row($"summary of #{summary.FromSequence}–#{summary.ThroughSequence}", Formats.Count(parts.Summary));
        }
        else if (parts.Summary > 0)
        {
            table.Row("note: earlier messages left out (the window starts inside a tool loop)", Formats.Count(parts.Summary));
        }
        foreach (var message in prepared.Selection.Pinned)
        {
            table.Row($"pinned #{message.Sequence} {message.Message.Role}: {Formats.Shorten(console, message.Message.Text, 50)}", Formats.Count(message.Tokens));
        }
        foreach (var message in prepared.Selection.Window)
        {
            table.Row($"#{message.Sequence} {message.Message.Role}: {Formats.Shorten(console, message.Message.Text, 50)}", Formats.Count(message.Tokens));
        }
        table.Row($"next user: {Formats.Shorten(console, nextMessage, 50)}", Formats.Count(parts.NewMessage));
        table.Row(new TextTable.Cell("request (with framing)", "bold"), new TextTable.Cell(Formats.Count(parts.Total), "bold"));
        table.Write(console, cancellationToken: cancellationToken);

        foreach (var omission in prepared.Selection.Omitted)
        {
            console.MarkupLine($"[dim]left out #{omission.FromSequence}–#{omission.ThroughSequence} ({omission.Messages} messages): {Markup.Escape(omission.Reason)}[/]");
        }
        foreach (var breakpoint in prepared.Breakpoints)
        {
            console.MarkupLine($"[dim]cache breakpoint: {Markup.Escape(breakpoint)}[/]");
        }
        var outputCost = ledger.Models.Cost(request.Model, new TokenUsage { OutputTokens = request.MaxTokens });
        console.MarkupLine($"model {Markup.Escape(request.Model)} · policy {Markup.Escape(policy.ToString() ?? "")} · {request.Messages.Count} messages"
            + $" · about {Formats.Count(prepared.EstimatedInputTokens)} prompt tokens = {Formats.Percent(prepared.Fill, 2)} of the {Formats.Count(prepared.ContextWindow)}-token window"
            + $" (budget {Formats.Count(prepared.Budget)})");
        console.MarkupLine($"cost estimate: input at most {Formats.Money(prepared.UncachedInputCostUsd)} (cache reads make it less), output up to {Formats.Money(outputCost)} (max_tokens {request.MaxTokens.ToString(System.Globalization.CultureInfo.InvariantCulture)})");
        if (prepared.Fill >= ledger.Options.WarnAtFill)
        {
            console.MarkupLine($"[bold yellow]warning: the context window would be {Formats.Percent(prepared.Fill, 0)} full[/]");
        }
        console.MarkupLine("[bold]request body[/] [dim](POST /v1/messages; --raw prints it alone, byte for byte)[/]");
        // Past the console's wrapping: the body must stay what would be sent.
        Output.WriteRaw(console, Indent(prepared.ToJson()) + "\n");
    }

    private static string Indent(string json)
    {
        using var document = JsonDocument.Parse(json);
        return JsonSerializer.Serialize(document.RootElement, IndentedJson);
    }

    private static readonly JsonSerializerOptions IndentedJson = new()
    {
        WriteIndented = true,
        // Keep non-ASCII text readable; this is for eyes, the exact bytes are --raw.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };
}
