using System.Globalization;
using ConversationLedger.Cli.Hosting;
using ConversationLedger.Cli.Rendering;
using Spectre.Console;

namespace ConversationLedger.Cli.Chat;

/// <summary>
/// The guide's conversation loop at a terminal: read a line, stream the reply as it arrives, commit the turn, print
/// its usage. Slash commands act on the ledger. Ctrl+C while a reply streams cancels that turn only (nothing is
/// stored); Ctrl+C twice at the prompt, <c>exit</c>, <c>quit</c> or the end of input ends the chat.
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

    private IAnsiConsole Console => _services.Console;

    /// <summary>Runs the chat until the user ends it; <paramref name="cancellationToken"/> ends it too.</summary>
    /// <param name="systemPrompt">A system prompt to set first (recorded only if it differs), or null.</param>
    /// <param name="cancellationToken">Ends the chat.</param>
    public async Task RunAsync(string? systemPrompt, CancellationToken cancellationToken = default)
    {
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
        Console.MarkupLine("[dim]type a message; /help lists commands; exit, quit or Ctrl+D ends[/]");

        while (!cancellationToken.IsCancellationRequested)
        {
            Console.Markup("[bold green]you>[/] ");
            var line = await ReadLineAsync(cancellationToken);
            if (line is null)
            {
                Console.WriteLine();
                break;
            }
            line = line.Trim();
            if (line.Length == 0)
            {
                continue;
            }
            if (line is "exit" or "quit")
            {
                break;
            }
            try
            {
                if (line.StartsWith('/'))
                {
                    await RunSlashAsync(line, cancellationToken);
                }
                else
                {
                    await SendAsync(line, cancellationToken);
                }
            }
            catch (Exception ex) when (ErrorLine.IsExpected(ex))
            {
                // A failed turn stored nothing; the thread is as it was and the chat goes on.
                ErrorLine.Write(_services.Errors, ex);
            }
        }
    }

    /// <summary>
    /// Reads a line; Ctrl+C once prints a hint, twice ends the chat (null). The read stays pending across the
    /// first Ctrl+C so no typed line is lost.
    /// </summary>
    private async Task<string?> ReadLineAsync(CancellationToken cancellationToken)
    {
        var input = _services.Input;
        _pendingLine ??= Task.Run(() => input.ReadLine(), CancellationToken.None);
        var presses = 0;
        var interrupted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var _ = _services.Interrupts.Push(() => interrupted.TrySetResult());
        using var __ = cancellationToken.Register(() => interrupted.TrySetResult());
        while (true)
        {
            var done = await Task.WhenAny(_pendingLine, interrupted.Task);
            if (done == _pendingLine)
            {
                var line = await _pendingLine;
                _pendingLine = null;
                return line;
            }
            if (cancellationToken.IsCancellationRequested || ++presses >= 2)
            {
                return null;
            }
            Console.WriteLine();
            Console.MarkupLine("[dim](Ctrl+C again to quit, or type exit)[/]");
            Console.Markup("[bold green]you>[/] ");
            interrupted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    private async Task SendAsync(string text, CancellationToken cancellationToken)
    {
        using var turn = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var _ = _services.Interrupts.Push(turn.Cancel);
        Console.Markup("[bold blue]claude>[/] ");
        var writer = Console.Profile.Out.Writer;
        var thinking = false;
        try
        {
            await foreach (var update in _conversation.StreamAsync(Message.User(text), _turn, turn.Token))
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
            Console.MarkupLine("[yellow]cancelled: nothing of this turn was stored[/]");
        }
        catch (Exception ex) when (ErrorLine.IsExpected(ex))
        {
            Console.WriteLine();
            throw;
        }
    }

    private async Task RunSlashAsync(string line, CancellationToken cancellationToken)
    {
        var space = line.IndexOf(' ', StringComparison.Ordinal);
        var command = (space < 0 ? line : line[..space]).ToLowerInvariant();
        var argument = space < 0 ? "" : line[(space + 1)..].Trim();
        switch (command)
        {
            case "/help":
                WriteHelp();
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
                    var current = (await _conversation.LoadAsync(cancellationToken)).SystemPrompt;
                    Console.MarkupLine(current is null ? "[dim]no system prompt; /system TEXT sets one[/]" : $"[bold]system[/] {Markup.Escape(current)}");
                    break;
                }
                await _conversation.SetSystemPromptAsync(argument, cancellationToken);
                Console.MarkupLine("[green]system prompt set[/] [dim](recorded in the ledger; applies from the next turn)[/]");
                break;
            case "/fork":
                var target = _session.Key(argument.Length > 0 ? argument : ForkName(Thread.ThreadId));
                _conversation = await _conversation.ForkAsync(target, cancellationToken: cancellationToken);
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
                    }
                    catch (ArgumentException ex)
                    {
                        Console.MarkupLine($"[red]error:[/] {Markup.Escape(ex.Message.Split(" (Parameter", 2)[0])}");
                        break;
                    }
                }
                Console.MarkupLine($"policy [bold]{Markup.Escape((_turn.Policy ?? _session.Ledger.Policy).ToString() ?? "")}[/]"
                    + $"[dim] · first exchange pinned: {(options.PinFirstExchange ? "yes" : "no")} · prompt caching: {(options.PromptCaching ? options.CacheTtl : "off")}"
                    + $" · warn at {ThreadViews.Percent(options.WarnAtFill, 0)} · /inspect shows what the next request carries[/]");
                break;
            default:
                Console.MarkupLine($"[red]error:[/] unknown command {Markup.Escape(command)}; /help lists them");
                break;
        }
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
        table.AddRow("/system [[TEXT]]", "show or change the system prompt (recorded in the ledger)");
        table.AddRow("/reset", "start afresh; the archive stays readable");
        table.AddRow("/fork [[ID]]", "copy this thread and continue in the copy");
        table.AddRow("/threads", "the threads in this scope");
        table.AddRow("/policy [[NAME]]", "show or change the history policy (names as for --policy)");
        table.AddRow("/model [[ID]]", "show or switch the model for the next turns");
        table.AddRow("/max-tokens [[N]]", "show or set the most tokens a reply may have");
        table.AddRow("exit, quit, Ctrl+D", "end the chat (Ctrl+C while a reply streams cancels only that turn)");
        Console.Write(table);
    }
}
