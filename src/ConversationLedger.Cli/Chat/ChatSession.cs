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
public sealed partial class ChatSession
{
    /// <summary>How many turns are shown when a thread is resumed.</summary>
    public const int ResumeTurns = 3;

    private readonly CliServices _services;
    private readonly LedgerSession _session;
    private Conversation _conversation;
    private TurnOptions _turn;
    private ChatInput? _input;

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

    // The line editor, when the chat reads from a terminal.
    private LineEditor? Editor => _input?.Editor;

    /// <summary>Runs the chat until the user ends it; <paramref name="cancellationToken"/> ends it too.</summary>
    /// <param name="systemPrompt">A system prompt to set first (recorded only if it differs), or null.</param>
    /// <param name="cancellationToken">Ends the chat.</param>
    public async Task RunAsync(string? systemPrompt, CancellationToken cancellationToken = default)
    {
        _input = new ChatInput(_services, _services.Terminal is { } terminal ? new LineEditor(terminal, new InputHistory(CurrentFiles.History)) : null);
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
        Console.MarkupLine(Editor is null
            ? "[dim]type a message; /help lists commands; /exit or the end of input ends[/]"
            : "[dim]type a message; /help lists commands and keys; Alt+Enter for a new line; /exit or Ctrl+D ends[/]");

        while (!cancellationToken.IsCancellationRequested)
        {
            var entry = await _input.ReadEntryAsync(cancellationToken);
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
                        Console.MarkupLine($"[bold yellow]warning: this request fills {Formats.Percent(warning.Request.Fill, 0)} of the context window; /reset starts afresh[/]");
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

    /// <summary>A fresh thread id for a fork of <paramref name="threadId"/>.</summary>
    public static string ForkName(string threadId)
    {
        var suffix = "-fork-" + Guid.NewGuid().ToString("N")[..6];
        var keep = Math.Min(threadId.Length, ThreadKey.MaxPartLength - suffix.Length);
        // Never between the two halves of a surrogate pair (an emoji): the id would not survive storage.
        var stem = threadId[..(keep > 0 && keep < threadId.Length && char.IsHighSurrogate(threadId[keep - 1]) ? keep - 1 : keep)];
        return stem + suffix;
    }
}
