using System.Globalization;
using ConversationLedger.Cli.Chat.Input;
using ConversationLedger.Cli.Rendering;
using Spectre.Console;

namespace ConversationLedger.Cli.Chat;

// The chat's slash commands: one table that both runs them and lists them in /help.
public sealed partial class ChatSession
{
    private IReadOnlyList<SlashCommand>? _commands;

    // In the order /help lists them.
    private IReadOnlyList<SlashCommand> Commands => _commands ??=
    [
        new(["/history"], "", "the conversation since the last reset, with entry numbers", ShowHistoryAsync),
        new(["/usage"], "", "tokens and cost of every model call, and bar charts of prompt tokens and of cost", ShowUsageAsync),
        new(["/inspect"], "[TEXT]", "the next request: its JSON, tokens per part, cost estimate", InspectAsync),
        new(["/pin", "/unpin"], "N", "always send message #N (when history policies trim)", PinAsync),
        new(["/system"], "[TEXT]", "change the system prompt, or clear it with no text (recorded in the ledger)", SetSystemPromptAsync),
        new(["/retry"], "", "regenerate the newest reply (the earlier one stays in the ledger)", RetryAsync),
        new(["/undo"], "", "take back the newest turn (it stays in the ledger, withdrawn)", UndoAsync),
        new(["/reset"], "", "start afresh; the archive stays readable", ResetAsync),
        new(["/fork"], "[ID]", "copy this thread and continue in the copy", ForkAsync),
        new(["/threads"], "", "the threads in this scope", ShowThreadsAsync),
        new(["/policy"], "[NAME]", "show or change the history policy (names as for --policy)", PolicyAsync),
        new(["/model"], "[ID]", "show or switch the model for the next turns", ModelAsync),
        new(["/max-tokens"], "[N]", "show or set the most tokens a reply may have", MaxTokensAsync),
        new(["/edit"], "[TEXT]", "write the message in $VISUAL or $EDITOR, then send it", EditAndSendAsync),
        new(["/help"], "", "this list", (_, _, _) => WriteHelpAsync()),
        new(["/exit", "/quit"], "", "end the chat (Ctrl+C while a reply streams cancels only that turn)", (_, _, _) => Task.CompletedTask)
        {
            Keys = "Ctrl+D",
            EndsChat = true,
        },
    ];

    // What else /help explains: how messages are typed, and on a terminal the editor's keys.
    private static readonly (string Keys, string Help)[] TypingHelp =
    [
        ("//TEXT", "send a message that starts with / (\"/TEXT\")"),
        ("\"\"\"", "a line of three quotes opens a multi-line message; another closes and sends it"),
    ];

    private static readonly (string Keys, string Help)[] EditorKeysHelp =
    [
        ("Alt+Enter, Ctrl+J", "a new line in the message (a paste keeps its lines and is sent by Enter)"),
        ("Up, Down", "earlier messages of this thread (kept across chats)"),
        ("Ctrl+A/E, Home/End", "start/end of the line; Ctrl+Left/Right, Alt+B/F by words"),
        ("Ctrl+U/K/W, Alt+D", "delete to the start/end of the line, the word before/after"),
        ("Ctrl+L", "clear the screen; Ctrl+D on an empty line ends, on text deletes"),
    ];

    // Runs a slash command; false when it ends the chat.
    private async Task<bool> RunSlashAsync(string line, CancellationToken cancellationToken)
    {
        var space = line.IndexOfAny([' ', '\n', '\t']);
        var name = (space < 0 ? line : line[..space]).ToLowerInvariant();
        var argument = space < 0 ? "" : line[(space + 1)..].Trim();
        if (Commands.FirstOrDefault(c => c.Names.Contains(name, StringComparer.Ordinal)) is not { } command)
        {
            Console.MarkupLine($"[red]error:[/] unknown command {Markup.Escape(name)}; /help lists them (//text sends a message that starts with /)");
            return true;
        }
        await command.RunAsync(name, argument, cancellationToken);
        return !command.EndsChat;
    }

    private Task WriteHelpAsync()
    {
        var table = new Table().Border(TableBorder.None).HideHeaders().AddColumns("command", "what it does");
        void Row(string keys, string help) => table.AddRow(new Text(keys), new Text(help));
        foreach (var command in Commands)
        {
            Row(command.Usage, command.Help);
        }
        foreach (var (keys, help) in Editor is null ? TypingHelp : [.. TypingHelp, .. EditorKeysHelp])
        {
            Row(keys, help);
        }
        Console.Write(table);
        return Task.CompletedTask;
    }

    private async Task ShowHistoryAsync(string name, string argument, CancellationToken cancellationToken) =>
        ThreadViews.WriteConversation(Console, await _conversation.LoadAsync(cancellationToken));

    private async Task ShowUsageAsync(string name, string argument, CancellationToken cancellationToken) =>
        UsageViews.WriteUsage(Console, await ThreadUsage.ReadAsync(_session.Store, Thread, cancellationToken), _session.Ledger.Models);

    private async Task InspectAsync(string name, string argument, CancellationToken cancellationToken)
    {
        var next = argument.Length > 0 ? argument : "(your next message)";
        var prepared = await _conversation.PreviewAsync(Message.User(next), _turn, cancellationToken);
        InspectView.Write(Console, prepared, _session.Ledger, _turn.Policy ?? _session.Ledger.Policy, next, raw: false, cancellationToken);
    }

    private async Task PinAsync(string name, string argument, CancellationToken cancellationToken)
    {
        if (!long.TryParse(argument.TrimStart('#'), NumberStyles.None, CultureInfo.InvariantCulture, out var sequence))
        {
            Console.MarkupLine($"[red]error:[/] {name} takes an entry number (the #N that /history shows)");
            return;
        }
        if (name == "/pin")
        {
            await _conversation.PinAsync(sequence, cancellationToken);
        }
        else
        {
            await _conversation.UnpinAsync(sequence, cancellationToken);
        }
        Console.MarkupLine($"[green]{name[1..]}ned[/] #{sequence}");
    }

    private async Task SetSystemPromptAsync(string name, string argument, CancellationToken cancellationToken)
    {
        if (argument.Length == 0)
        {
            // No text clears the prompt (a ledger event too); /history shows the prompt in force.
            var current = (await _conversation.LoadAsync(cancellationToken)).SystemPrompt;
            if (current is null)
            {
                Console.MarkupLine("[dim]no system prompt to clear; /system TEXT sets one[/]");
                return;
            }
            await _conversation.SetSystemPromptAsync("", cancellationToken);
            Console.MarkupLine($"[green]system prompt cleared[/] [dim](it was: {Markup.Escape(current)}; recorded in the ledger; applies from the next turn)[/]");
            return;
        }
        await _conversation.SetSystemPromptAsync(argument, cancellationToken);
        Console.MarkupLine("[green]system prompt set[/] [dim](recorded in the ledger; applies from the next turn)[/]");
    }

    private Task RetryAsync(string name, string argument, CancellationToken cancellationToken) =>
        StreamTurnAsync(token => _conversation.StreamRetryAsync(_turn, token), "nothing of this retry was stored; the earlier reply stands", cancellationToken);

    private async Task UndoAsync(string name, string argument, CancellationToken cancellationToken)
    {
        var withdrawn = await _conversation.UndoAsync(cancellationToken);
        Console.MarkupLine($"[green]undone:[/] the newest turn ({withdrawn.Count} messages, from \"{Markup.Escape(Formats.Shorten(withdrawn[0].Message.Text, 40))}\") is withdrawn"
            + " [dim](a ledger event: the messages stay in the ledger, ledger show --all lists them; the next request is sent without them)[/]");
    }

    private async Task ResetAsync(string name, string argument, CancellationToken cancellationToken)
    {
        await _conversation.ResetAsync("chat /reset", cancellationToken);
        Console.MarkupLine("[green]reset:[/] the next request starts afresh; earlier entries stay in the archive");
    }

    private async Task ForkAsync(string name, string argument, CancellationToken cancellationToken)
    {
        var target = _session.Key(argument.Length > 0 ? argument : ForkName(Thread.ThreadId));
        var settings = CurrentFiles.ReadSettings();
        _conversation = await _conversation.ForkAsync(target, cancellationToken: cancellationToken);
        // The copy starts with the original's remembered settings; what is typed from now on is the copy's history.
        CurrentFiles.WriteSettings(settings);
        Editor?.History.Switch(CurrentFiles.History);
        Console.MarkupLine($"[green]forked:[/] now in {Markup.Escape(target.ToString())}; the original thread is unchanged");
    }

    private async Task ShowThreadsAsync(string name, string argument, CancellationToken cancellationToken)
    {
        var page = await _session.Store.ListThreadsAsync(_session.Tenant, _session.Scope, new PageRequest(Limit: 50), cancellationToken);
        ThreadViews.WriteThreads(Console, page.Threads, Thread.ThreadId);
    }

    private async Task PolicyAsync(string name, string argument, CancellationToken cancellationToken)
    {
        var options = _session.Ledger.Options;
        if (argument.Length > 0)
        {
            if (!HistoryPolicies.TryParse(argument, out var policy, out var error))
            {
                Console.MarkupLine($"[red]error:[/] {Markup.Escape(error)}");
                return;
            }
            _turn = _turn with { Policy = policy };
            CurrentFiles.WriteSettings(CurrentFiles.ReadSettings() with { Policy = argument });
        }
        // The pins as they are now (an /unpin shows), not the setting that pinned the first exchange.
        var pins = (await _conversation.LoadAsync(cancellationToken)).Messages.Where(m => m.Pinned).Select(m => "#" + m.Sequence.ToString(CultureInfo.InvariantCulture)).ToArray();
        Console.MarkupLine($"policy [bold]{Markup.Escape((_turn.Policy ?? _session.Ledger.Policy).ToString() ?? "")}[/]"
            + $"[dim] · pinned: {(pins.Length == 0 ? "none" : string.Join(", ", pins))} · prompt caching: {(options.PromptCaching ? options.CacheTtl : "off")}"
            + $" · warn at {Formats.Percent(options.WarnAtFill, 0)} · /inspect shows what the next request carries[/]");
    }

    private Task ModelAsync(string name, string argument, CancellationToken cancellationToken)
    {
        if (argument.Length > 0)
        {
            if (!_session.Ledger.Models.TryGet(argument, out _))
            {
                Console.MarkupLine($"[red]error:[/] unknown model {Markup.Escape(argument)}; known models: {Markup.Escape(string.Join(", ", _session.Ledger.Models.Models.Select(m => m.Id)))}");
                return Task.CompletedTask;
            }
            _turn = _turn with { Model = argument };
            CurrentFiles.WriteSettings(CurrentFiles.ReadSettings() with { Model = argument });
        }
        Console.MarkupLine($"model [bold]{Markup.Escape(_turn.Model ?? _session.Ledger.Options.Model)}[/]");
        return Task.CompletedTask;
    }

    private Task MaxTokensAsync(string name, string argument, CancellationToken cancellationToken)
    {
        if (argument.Length > 0)
        {
            if (!int.TryParse(argument, NumberStyles.None, CultureInfo.InvariantCulture, out var maxTokens) || maxTokens <= 0)
            {
                Console.MarkupLine($"[red]error:[/] /max-tokens takes a positive number of tokens, not {Markup.Escape(argument)}");
                return Task.CompletedTask;
            }
            _turn = _turn with { MaxTokens = maxTokens };
        }
        Console.MarkupLine($"max_tokens [bold]{(_turn.MaxTokens ?? _session.Ledger.Options.MaxTokens).ToString(CultureInfo.InvariantCulture)}[/]");
        return Task.CompletedTask;
    }

    // /edit: the message is written in $VISUAL or $EDITOR (starting from TEXT, if given), then sent as it was saved.
    private async Task EditAndSendAsync(string name, string initial, CancellationToken cancellationToken)
    {
        var command = ExternalEditor.Command(_services.Environment);
        string edited;
        // Ctrl+C belongs to the editor while it runs (it shares the terminal), not to the chat.
        using (_services.Interrupts.Push(() => { }))
        {
            edited = await ExternalEditor.EditAsync(command, initial.Length > 0 ? initial + "\n" : "", cancellationToken);
        }
        var message = ChatText.Clean(edited);
        if (message.Length == 0)
        {
            Console.MarkupLine("[dim]the edited message is empty: nothing was sent[/]");
            return;
        }
        Editor?.History.Add(message);
        Console.MarkupLine("[dim]you (from the editor):[/]");
        Console.WriteLine(message);
        await SendAsync(message, cancellationToken);
    }
}
