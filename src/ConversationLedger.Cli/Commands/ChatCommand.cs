using System.ComponentModel;
using ConversationLedger.Cli.Chat;
using ConversationLedger.Cli.Hosting;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ConversationLedger.Cli.Commands;

/// <summary><c>ledger chat</c>: the conversation loop, on a thread that persists.</summary>
[Description("Chat in a thread: replies stream as they arrive; the thread is resumed when it exists")]
public sealed class ChatCommand(CliServices services) : LedgerCommand<ChatSettings>(services)
{
    /// <inheritdoc />
    protected override ValidationResult ValidateMore(ChatSettings settings) =>
        CheckId(settings.Thread, "thread")
        ?? (settings.System is ['@', .. var path] && !File.Exists(path) ? ValidationResult.Error($"--system {settings.System}: no such file")
            : settings.Thinking is < MinThinkingBudget ? ValidationResult.Error($"--thinking {settings.Thinking}: the API's smallest thinking budget is {MinThinkingBudget} tokens")
            : ValidationResult.Success());

    private const int MinThinkingBudget = 1024;

    /// <inheritdoc />
    protected override async Task<int> RunAsync(ChatSettings settings, CancellationToken cancellationToken)
    {
        var system = settings.System is ['@', .. var path] ? (await File.ReadAllTextAsync(path, cancellationToken)).Trim() : settings.System;
        await using var session = await OpenAsync(settings, withModel: true, cancellationToken);
        if (settings.Thinking is { } budget)
        {
            // The budget is part of max_tokens: leave the usual room for the answer on top of it.
            var options = session.Ledger.Options;
            options.Thinking = System.Text.Json.JsonSerializer.SerializeToElement(new { type = "enabled", budget_tokens = budget });
            options.MaxTokens += budget;
        }
        await new ChatSession(Services, session, settings.Thread).RunAsync(system, cancellationToken);
        return 0;
    }
}
