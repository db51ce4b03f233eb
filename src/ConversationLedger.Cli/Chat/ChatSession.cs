using System.Globalization;
using ConversationLedger.Cli.Chat.Input;
using ConversationLedger.Cli.Hosting;
using ConversationLedger.Cli.Rendering;
using Spectre.Console;

namespace ConversationLedger.Cli.Chat;

/// <summary>
/// The guide's conversation loop at a terminal: read a message, stream the reply as it arrives, commit the turn, print
/// its usage. On a terminal the message is read with a <see cref="LineEditor"/> (editing keys, history, multi-line,
/// bracketed paste); piped input is read line by line (a <c>"""</c> line opens a multi-line block there too). Slash
/// commands act on the ledger; <c>//</c> sends a message that starts with a slash. Ctrl+C while a reply streams cancels
/// that turn only (nothing is stored); Ctrl+C twice at the prompt, <c>/exit</c>, <c>/quit</c> or the end of input ends the chat.
/// </summary>
public sealed class ChatSession
{
    /// <summary>How many turns are shown when a thread is resumed.</summary>
    public const int ResumeTurns = 3;

    private readonly CliServices _services;
    private readonly LedgerSession _session;
    private Conversation _conversation;
    private Task<string?>? _pendingLine;
    private TurnOptions _turn;
    private LineEditor? _editor;

    /// <summary>Creates a chat on one thread.</summary>
    /// <param name="services">The console and environment.</param>
    /// <param name="session">The store, model and ledger.</param>
    /// <param name="threadId">The thread.</param>
    /// <param name="turn">What every turn of this chat sets over the ledger's settings (thinking, effort …); /policy changes its policy.</param>
    public ChatSession(CliServices services, LedgerSession session, string threadId, TurnOptions? turn = null)
    {
        _turn = turn ?? new TurnOptions();
        _services = services ?? throw new ArgumentNullException(nameof(services));
        _session = session ?? throw new ArgumentNullException(nameof(session));
        _conversation = session.Ledger.Open(session.Key(threadId));
    }

    /// <summary>The thread the chat is on (a /fork moves it).</summary>
    public ThreadKey Thread => _conversation.Key;

    /// <summary>
    /// Where a thread's input history and remembered settings are kept (null: nowhere, they last as long as the chat).
    /// <value>The default value is null.</value>
    /// </summary>
    public Func<ThreadKey, ThreadFiles>? Files { get; init; }

    /// <summary>Where the ledger is, for error lines that name it. <value>The default value is null.</value></summary>
    public StoreLocation? Store { get; init; }

    private ThreadFiles CurrentFiles => Files?.Invoke(Thread) ?? new ThreadFiles((string?)null);

    private IAnsiConsole Console => _services.Console;

    /// <summary>Runs the chat until the user ends it; <paramref name="cancellationToken"/> ends it too.</summary>
    /// <param name="systemPrompt">A system prompt to set first (recorded only if it differs), or null.</param>
    /// <param name="cancellationToken">Ends the chat.</param>
    public async Task RunAsync(string? systemPrompt, CancellationToken cancellationToken = default)
    {
        if (_services.Terminal is { } terminal)
        {
            _editor = new LineEditor(terminal, new InputHistory(CurrentFiles.History));
        }
        var view = await _conversation.LoadAsync(cancellationToken);
        if (view.Head.Exists)
        {
            var turns = view.Messages.Count / 2;
            Console.MarkupLine($"[dim]resuming {Markup.Escape(Thread.ToString())}: {turns} turn{(turns == 1 ? "" : "s")}[/]");
            ThreadViews.WriteRecent(Console, view, ResumeTurns);
        }
        else
        {
            Console.MarkupLine($"[dim]new thread {Markup.Escape(Thread.ToString())}[/]");
        }
        if (systemPrompt is not null)
        {
            await _conversation.SetSystemPromptAsync(systemPrompt, cancellationToken);
        }
        Console.MarkupLine(_editor is null
            ? "[dim]type a message; /help lists commands; /exit or the end of input ends[/]"
            : "[dim]type a message; /help lists commands and keys; Alt+Enter for a new line; /exit or Ctrl+D ends[/]");

        while (!cancellationToken.IsCancellationRequested)
        {
            var entry = await ReadEntryAsync(cancellationToken);
            if (entry is null)
            {
                break;
            }
            var text = LineEditor.Unfence(entry, out var fenced);
            try
            {
                if (!fenced && text.TrimStart() is ['/', not '/', ..] command)
                {
                    if (!await RunSlashAsync(ChatText.CleanPaste(command).Trim(), cancellationToken))
                    {
                        break;
                    }
                    continue;
                }
                // "//text" sends "/text": the escape for a message that starts with a slash.
                var message = ChatText.Clean(!fenced && text.TrimStart().StartsWith("//", StringComparison.Ordinal) ? text.TrimStart()[1..] : text);
                if (message.Length > 0)
                {
                    await SendAsync(message, cancellationToken);
                }
            }
            catch (Exception ex) when (ErrorLine.IsExpected(ex))
            {
                // A failed turn stored nothing; the thread is as it was and the chat goes on.
                ErrorLine.Write(_services.Errors, ex, Store);
            }
        }
    }

    /// <summary>
    /// The next entry as typed (a """ block whole), or null when the chat ends: the end of input, or Ctrl+C twice at
    /// the prompt (once prints a hint).
    /// </summary>
    private async Task<string?> ReadEntryAsync(CancellationToken cancellationToken)
    {
        if (_editor is null)
        {
            Console.Markup("[bold green]you>[/] ");
            var line = await ReadLineAsync(cancellationToken);
            if (line is null)
            {
                Console.WriteLine();
                return null;
            }
            if (line.Trim() != LineEditor.Fence)
            {
                return line;
            }
            // A """ line opens a block of lines that a """ line closes; the end of input inside it sends nothing.
            var block = new System.Text.StringBuilder(line).Append('\n');
            while (true)
            {
                Console.Markup("[dim]...[/]  ");
                var next = await ReadLineAsync(cancellationToken);
                if (next is null)
                {
                    Console.WriteLine();
                    return null;
                }
                block.Append(next).Append('\n');
                if (next.Trim() == LineEditor.Fence)
                {
                    return block.ToString();
                }
            }
        }

        var presses = 0;
        var style = Console.Profile.Capabilities.ColorSystem == ColorSystem.NoColors ? null : "\u001b[1;32m";
        while (true)
        {
            EditorResult result;
            using (_services.Interrupts.Push(_editor.Interrupt))
            {
                result = await _editor.ReadAsync("you> ", style, cancellationToken);
            }
            switch (result.Outcome)
            {
                case EditorOutcome.Line:
                    return result.Text;
                case EditorOutcome.End:
                    return null;
                default:
                    if (cancellationToken.IsCancellationRequested || ++presses >= 2)
                    {
                        return null;
                    }
                    Console.MarkupLine("[dim](Ctrl+C again to quit, or type /exit)[/]");
                    break;
            }
        }
    }

    /// <summary>
    /// Reads a line; Ctrl+C once prints a hint, twice ends the chat (null). The read stays pending across the
    /// first Ctrl+C so no typed line is lost. Presses are counted, not signalled: two in quick succession are two, however
    /// late this loop gets to them (a signal set twice before it was seen would count once, and the chat would hang).
    /// </summary>
    private async Task<string?> ReadLineAsync(CancellationToken cancellationToken)
    {
        var input = _services.Input;
        _pendingLine ??= Task.Run(() => input.ReadLine(), CancellationToken.None);
        var presses = System.Threading.Channels.Channel.CreateUnbounded<bool>();
        using var _ = _services.Interrupts.Push(() => presses.Writer.TryWrite(true));
        using var __ = cancellationToken.Register(() => presses.Writer.TryWrite(true));
        var count = 0;
        while (true)
        {
            var pressed = presses.Reader.WaitToReadAsync(CancellationToken.None).AsTask();
            var done = await Task.WhenAny(_pendingLine, pressed);
            if (done == _pendingLine)
            {
                var line = await _pendingLine;
                _pendingLine = null;
                return line;
            }
            var before = count;
            while (presses.Reader.TryRead(out var press) && press)
            {
                count++;
            }
            if (cancellationToken.IsCancellationRequested)
            {
                return null;
            }
            if (before == 0)
            {
                // Said at the first press, also when the second came before it was seen.
                Console.WriteLine();
                Console.MarkupLine("[dim](Ctrl+C again to quit, or type /exit)[/]");
                if (count < 2)
                {
                    Console.Markup("[bold green]you>[/] ");
                }
            }
            if (count >= 2)
            {
                return null;
            }
        }
    }

    private Task SendAsync(string text, CancellationToken cancellationToken) =>
        StreamTurnAsync(token => _conversation.StreamAsync(Message.User(text), _turn, token), "nothing of this turn was stored", cancellationToken);

    private async Task StreamTurnAsync(Func<CancellationToken, IAsyncEnumerable<TurnUpdate>> stream, string cancelled, CancellationToken cancellationToken)
    {
        using var turn = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var _ = _services.Interrupts.Push(turn.Cancel);
        Console.Markup("[bold blue]claude>[/] ");
        var writer = Console.Profile.Out.Writer;
        var thinking = false;
        try
        {
            await foreach (var update in stream(turn.Token))
            {
                switch (update)
                {
                    case TurnThinkingDelta delta:
                        // Thinking is shown dim, before the answer; it is stored with its signature but is not the reply.
                        Console.Markup(thinking ? "" : "[dim](thinking) [/]");
                        thinking = true;
                        Console.Write(new Text(delta.Text, new Style(decoration: Decoration.Dim)));
                        break;
                    case TurnTextDelta delta:
                        if (thinking)
                        {
                            Console.WriteLine();
                            thinking = false;
                        }
                        // Raw text, not markup: a reply may contain [brackets].
                        await writer.WriteAsync(delta.Text);
                        await writer.FlushAsync(turn.Token);
                        break;
                    case TurnSummarizing summarizing:
                        Console.MarkupLine($"[dim](summarizing entries {summarizing.FromSequence}–{summarizing.ThroughSequence}, which left the window…)[/]");
                        break;
                    case TurnContextWarning warning:
                        // Known before the call: say it before the reply, as the guide advises.
                        Console.WriteLine();
                        Console.MarkupLine($"[bold yellow]warning: this request fills {ThreadViews.Percent(warning.Request.Fill, 0)} of the context window; /reset starts afresh[/]");
                        break;
                    case TurnCommitted committed:
                        Console.WriteLine();
                        if (committed.Turn.SummaryError is { } summaryError)
                        {
                            // Once, on the turn it failed; the turn itself went ahead.
                            Console.MarkupLine($"[yellow]summary failed: {Markup.Escape(summaryError)}; this turn went ahead with the earlier summary[/]");
                        }
                        ThreadViews.WriteTurnFooter(Console, committed.Turn, _session.Ledger.Options.WarnAtFill);
                        break;
                }
            }
        }
        catch (OperationCanceledException) when (turn.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            Console.WriteLine();
            Console.MarkupLine($"[yellow]cancelled: {cancelled}[/]");
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The whole command ends (SIGTERM) in the middle of a reply: end the reply's line first, so what is said
            // next starts on a line of its own.
            Console.WriteLine();
            throw;
        }
        catch (Exception ex) when (ErrorLine.IsExpected(ex))
        {
            Console.WriteLine();
            throw;
        }
    }

    // Runs a slash command; false when it ends the chat.
    private async Task<bool> RunSlashAsync(string line, CancellationToken cancellationToken)
    {
        var space = line.IndexOfAny([' ', '\n', '\t']);
        var command = (space < 0 ? line : line[..space]).ToLowerInvariant();
        var argument = space < 0 ? "" : line[(space + 1)..].Trim();
        switch (command)
        {
            case "/exit" or "/quit":
                return false;
            case "/edit":
                await EditAndSendAsync(argument, cancellationToken);
                break;
            case "/help":
                WriteHelp();
                break;
            case "/undo":
                var withdrawn = await _conversation.UndoAsync(cancellationToken);
                Console.MarkupLine($"[green]undone:[/] the newest turn ({withdrawn.Count} messages, from \"{Markup.Escape(Shorten(withdrawn[0].Message.Text, 40))}\") is withdrawn"
                    + " [dim](a ledger event: the messages stay in the ledger, ledger show --all lists them; the next request is sent without them)[/]");
                break;
            case "/retry":
                await StreamTurnAsync(token => _conversation.StreamRetryAsync(_turn, token), "nothing of this retry was stored; the earlier reply stands", cancellationToken);
                break;
            case "/reset":
                await _conversation.ResetAsync("chat /reset", cancellationToken);
                Console.MarkupLine("[green]reset:[/] the next request starts afresh; earlier entries stay in the archive");
                break;
            case "/history":
                ThreadViews.WriteConversation(Console, await _conversation.LoadAsync(cancellationToken));
                break;
            case "/usage":
                await ThreadViews.WriteUsageAsync(Console, _session.Store, Thread, _session.Ledger.Models, cancellationToken);
                break;
            case "/pin" or "/unpin":
                if (!long.TryParse(argument.TrimStart('#'), NumberStyles.None, CultureInfo.InvariantCulture, out var sequence))
                {
                    Console.MarkupLine($"[red]error:[/] {command} takes an entry number (the #N that /history shows)");
                    break;
                }
                if (command == "/pin")
                {
                    await _conversation.PinAsync(sequence, cancellationToken);
                }
                else
                {
                    await _conversation.UnpinAsync(sequence, cancellationToken);
                }
                Console.MarkupLine($"[green]{command[1..]}ned[/] #{sequence}");
                break;
            case "/system":
                if (argument.Length == 0)
                {
                    // No text clears the prompt (a ledger event too); /history shows the prompt in force.
                    var current = (await _conversation.LoadAsync(cancellationToken)).SystemPrompt;
                    if (current is null)
                    {
                        Console.MarkupLine("[dim]no system prompt to clear; /system TEXT sets one[/]");
                        break;
                    }
                    await _conversation.SetSystemPromptAsync("", cancellationToken);
                    Console.MarkupLine($"[green]system prompt cleared[/] [dim](it was: {Markup.Escape(current)}; recorded in the ledger; applies from the next turn)[/]");
                    break;
                }
                await _conversation.SetSystemPromptAsync(argument, cancellationToken);
                Console.MarkupLine("[green]system prompt set[/] [dim](recorded in the ledger; applies from the next turn)[/]");
                break;
            case "/fork":
                var target = _session.Key(argument.Length > 0 ? argument : ForkName(Thread.ThreadId));
                var settings = CurrentFiles.ReadSettings();
                _conversation = await _conversation.ForkAsync(target, cancellationToken: cancellationToken);
                // The copy starts with the original's remembered settings; what is typed from now on is the copy's history.
                CurrentFiles.WriteSettings(settings);
                _editor?.History.Switch(CurrentFiles.History);
                Console.MarkupLine($"[green]forked:[/] now in {Markup.Escape(target.ToString())}; the original thread is unchanged");
                break;
            case "/threads":
                var page = await _session.Store.ListThreadsAsync(_session.Tenant, _session.Scope, new PageRequest(Limit: 50), cancellationToken);
                ThreadViews.WriteThreads(Console, page.Threads, Thread.ThreadId);
                break;
            case "/inspect":
                await ThreadViews.WriteInspectAsync(Console, _conversation, _session.Ledger, _turn,
                    argument.Length > 0 ? argument : "(your next message)", raw: false, cancellationToken);
                break;
            case "/model":
                if (argument.Length > 0)
                {
                    if (!_session.Ledger.Models.TryGet(argument, out _))
                    {
                        Console.MarkupLine($"[red]error:[/] unknown model {Markup.Escape(argument)}; known models: {Markup.Escape(string.Join(", ", _session.Ledger.Models.Models.Select(m => m.Id)))}");
                        break;
                    }
                    _turn = _turn with { Model = argument };
                    CurrentFiles.WriteSettings(CurrentFiles.ReadSettings() with { Model = argument });
                }
                Console.MarkupLine($"model [bold]{Markup.Escape(_turn.Model ?? _session.Ledger.Options.Model)}[/]");
                break;
            case "/max-tokens":
                if (argument.Length > 0)
                {
                    if (!int.TryParse(argument, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var maxTokens) || maxTokens <= 0)
                    {
                        Console.MarkupLine($"[red]error:[/] /max-tokens takes a positive number of tokens, not {Markup.Escape(argument)}");
                        break;
                    }
                    _turn = _turn with { MaxTokens = maxTokens };
                }
                Console.MarkupLine($"max_tokens [bold]{(_turn.MaxTokens ?? _session.Ledger.Options.MaxTokens).ToString(System.Globalization.CultureInfo.InvariantCulture)}[/]");
                break;
            case "/policy":
                var options = _session.Ledger.Options;
                if (argument.Length > 0)
                {
                    try
                    {
                        _turn = _turn with { Policy = HistoryPolicies.Parse(argument) };
                        CurrentFiles.WriteSettings(CurrentFiles.ReadSettings() with { Policy = argument });
                    }
                    catch (ArgumentException ex)
                    {
                        Console.MarkupLine($"[red]error:[/] {Markup.Escape(ex.Message.Split(" (Parameter", 2)[0])}");
                        break;
                    }
                }
                // The pins as they are now (an /unpin shows), not the setting that pinned the first exchange.
                var pins = (await _conversation.LoadAsync(cancellationToken)).Messages.Where(m => m.Pinned).Select(m => "#" + m.Sequence.ToString(CultureInfo.InvariantCulture)).ToArray();
                Console.MarkupLine($"policy [bold]{Markup.Escape((_turn.Policy ?? _session.Ledger.Policy).ToString() ?? "")}[/]"
                    + $"[dim] · pinned: {(pins.Length == 0 ? "none" : string.Join(", ", pins))} · prompt caching: {(options.PromptCaching ? options.CacheTtl : "off")}"
                    + $" · warn at {ThreadViews.Percent(options.WarnAtFill, 0)} · /inspect shows what the next request carries[/]");
                break;
            default:
                Console.MarkupLine($"[red]error:[/] unknown command {Markup.Escape(command)}; /help lists them (//text sends a message that starts with /)");
                break;
        }
        return true;
    }

    // /edit: the message is written in $VISUAL or $EDITOR (starting from TEXT, if given), then sent as it was saved.
    private async Task EditAndSendAsync(string initial, CancellationToken cancellationToken)
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
        _editor?.History.Add(message);
        Console.MarkupLine("[dim]you (from the editor):[/]");
        Console.WriteLine(message);
        await SendAsync(message, cancellationToken);
    }

    private static string Shorten(string text, int max)
    {
        var line = text.ReplaceLineEndings(" ");
        return line.Length <= max ? line : string.Concat(line.AsSpan(0, max), "…");
    }

    /// <summary>A fresh thread id for a fork of <paramref name="threadId"/>.</summary>
    public static string ForkName(string threadId)
    {
        var suffix = "-fork-" + Guid.NewGuid().ToString("N")[..6];
        var keep = Math.Min(threadId.Length, ThreadKey.MaxPartLength - suffix.Length);
        // Never between the two halves of a surrogate pair (an emoji): the id would not survive storage.
        var stem = threadId[..(keep > 0 && keep < threadId.Length && char.IsHighSurrogate(threadId[keep - 1]) ? keep - 1 : keep)];
        return stem + suffix;
    }

    private void WriteHelp()
    {
        var table = new Table().Border(TableBorder.None).HideHeaders().AddColumns("command", "what it does");
        table.AddRow("/history", "the conversation since the last reset, with entry numbers");
        table.AddRow("/usage", "tokens and cost of every model call, and bar charts of prompt tokens and of cost");
        table.AddRow("/inspect [[TEXT]]", "the next request: its JSON, tokens per part, cost estimate");
        table.AddRow("/pin N, /unpin N", "always send message #N (when history policies trim)");
        table.AddRow("/system [[TEXT]]", "change the system prompt, or clear it with no text (recorded in the ledger)");
        table.AddRow("/retry", "regenerate the newest reply (the earlier one stays in the ledger)");
        table.AddRow("/undo", "take back the newest turn (it stays in the ledger, withdrawn)");
        table.AddRow("/reset", "start afresh; the archive stays readable");
        table.AddRow("/fork [[ID]]", "copy this thread and continue in the copy");
        table.AddRow("/threads", "the threads in this scope");
        table.AddRow("/policy [[NAME]]", "show or change the history policy (names as for --policy)");
        table.AddRow("/model [[ID]]", "show or switch the model for the next turns");
        table.AddRow("/max-tokens [[N]]", "show or set the most tokens a reply may have");
        table.AddRow("/edit [[TEXT]]", "write the message in $VISUAL or $EDITOR, then send it");
        table.AddRow("/exit, /quit, Ctrl+D", "end the chat (Ctrl+C while a reply streams cancels only that turn)");
        table.AddRow("//TEXT", "send a message that starts with / (\"/TEXT\")");
        table.AddRow("\"\"\"", "a line of three quotes opens a multi-line message; another closes and sends it");
        if (_editor is not null)
        {
            table.AddRow("Alt+Enter, Ctrl+J", "a new line in the message (a paste keeps its lines and is sent by Enter)");
            table.AddRow("Up, Down", "earlier messages of this thread (kept across chats)");
            table.AddRow("Ctrl+A/E, Home/End", "start/end of the line; Ctrl+Left/Right, Alt+B/F by words");
            table.AddRow("Ctrl+U/K/W, Alt+D", "delete to the start/end of the line, the word before/after");
            table.AddRow("Ctrl+L", "clear the screen; Ctrl+D on an empty line ends, on text deletes");
        }
        Console.Write(table);
    }
}
