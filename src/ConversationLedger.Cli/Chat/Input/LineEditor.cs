namespace ConversationLedger.Cli.Chat.Input;

/// <summary>
/// The chat's line editor on an <see cref="ITerminal"/>: editing keys (arrows, Home/End, word moves, Ctrl+A/E/B/F,
/// Ctrl+U/K/W, Alt+D, Ctrl+L), history recall (Up/Down, Ctrl+P/N) from an <see cref="InputHistory"/>, multi-line input
/// (Alt+Enter or Ctrl+J for a new line; a <c>"""</c> line opens a block that Enter continues until a closing
/// <c>"""</c>), bracketed paste inserted whole (newlines and indentation kept, never sent by its newlines), Ctrl+D ending
/// only an empty line, and Ctrl+C (delivered by <see cref="Interrupt"/>) discarding a typed line or, on an empty one,
/// reported to the caller. Keys never become control characters in the text. A message taller than the terminal is
/// shown through a window of rows around the cursor. One read at a time.
/// </summary>
public sealed class LineEditor
{
    /// <summary>The line that opens and closes a multi-line block.</summary>
    public const string Fence = "\"\"\"";

    private readonly ITerminal _terminal;
    private readonly InputHistory _history;
    private readonly EditBuffer _text = new();
    private readonly EditorScreen _screen;
    private int _historyIndex;
    private string _draft = "";
    private int _interrupts;

    /// <summary>Creates an editor.</summary>
    /// <param name="terminal">The terminal.</param>
    /// <param name="history">Where entered lines are kept and recalled from.</param>
    public LineEditor(ITerminal terminal, InputHistory history)
    {
        _terminal = terminal ?? throw new ArgumentNullException(nameof(terminal));
        _history = history ?? throw new ArgumentNullException(nameof(history));
        _screen = new EditorScreen(terminal);
    }

    /// <summary>The history.</summary>
    public InputHistory History => _history;

    /// <summary>Delivers Ctrl+C to the read in progress (or the next one). Thread-safe.</summary>
    public void Interrupt() => Interlocked.Increment(ref _interrupts);

    /// <summary>Reads one entry.</summary>
    /// <param name="prompt">The prompt's text.</param>
    /// <param name="promptStyle">An ANSI style for the prompt (e.g. <c>"\u001b[1;32m"</c>), or null for no colours at all.</param>
    /// <param name="cancellationToken">Ends the read with <see cref="EditorOutcome.End"/>.</param>
    public Task<EditorResult> ReadAsync(string prompt, string? promptStyle, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        _screen.Begin(prompt, promptStyle);
        // The terminal is polled, not awaited: a thread of its own, given up within one poll of a cancellation.
        return Task.Factory.StartNew(() => Read(cancellationToken), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    private EditorResult Read(CancellationToken cancellationToken)
    {
        _text.Set("");
        _historyIndex = _history.Entries.Count;
        _draft = "";
        Interlocked.Exchange(ref _interrupts, 0);
        var decoder = new KeyDecoder();
        var keys = new List<EditorKey>();
        var buffer = new byte[4096];
        using var raw = _terminal.EnterRawMode();
        _screen.Render(_text);
        while (true)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                return Finish(EditorOutcome.End);
            }
            if (Interlocked.Exchange(ref _interrupts, 0) > 0)
            {
                if (_text.Length == 0)
                {
                    return Finish(EditorOutcome.Interrupted);
                }
                // As in a shell: Ctrl+C drops what was typed and starts a fresh line.
                _screen.Render(_text, final: true);
                _screen.Write("^C\r\n");
                _text.Set("");
                _historyIndex = _history.Entries.Count;
                _screen.Render(_text);
                continue;
            }
            var read = _terminal.Read(buffer, decoder.Pending && !decoder.InPaste ? 40 : 100);
            if (read < 0)
            {
                return Finish(EditorOutcome.End);
            }
            if (read == 0)
            {
                if (!decoder.Pending || decoder.InPaste)
                {
                    continue;
                }
                decoder.Timeout(keys);
            }
            else
            {
                decoder.Feed(buffer.AsSpan(0, read), keys);
            }
            foreach (var key in keys)
            {
                if (Handle(key) is { } outcome)
                {
                    var text = _text.ToString();
                    if (outcome == EditorOutcome.Line && !string.IsNullOrWhiteSpace(text))
                    {
                        _history.Add(text);
                    }
                    return Finish(outcome, text);
                }
            }
            keys.Clear();
            _screen.Render(_text);
        }
    }

    private EditorResult Finish(EditorOutcome outcome, string text = "")
    {
        _text.MoveToEnd();
        _screen.Render(_text, final: true);
        if (outcome == EditorOutcome.Interrupted)
        {
            _screen.Write("^C");
        }
        _screen.Write("\r\n");
        return new EditorResult(outcome, outcome == EditorOutcome.Line ? text : "");
    }

    // What a key does; an outcome when the read is over.
    private EditorOutcome? Handle(EditorKey key)
    {
        switch (key.Kind)
        {
            case KeyKind.Insert or KeyKind.Paste:
                _text.Insert(key.Text);
                break;
            case KeyKind.Enter:
                if (!_text.InOpenBlock())
                {
                    return EditorOutcome.Line;
                }
                _text.Insert("\n");
                break;
            case KeyKind.NewLine:
                _text.Insert("\n");
                break;
            case KeyKind.Backspace:
                _text.DeleteBack();
                break;
            case KeyKind.EndOfInput when _text.Length == 0:
                return EditorOutcome.End;
            case KeyKind.Delete or KeyKind.EndOfInput:
                _text.DeleteForward();
                break;
            case KeyKind.Left:
                _text.Left();
                break;
            case KeyKind.Right:
                _text.Right();
                break;
            case KeyKind.WordLeft:
                _text.WordLeft();
                break;
            case KeyKind.WordRight:
                _text.WordRight();
                break;
            case KeyKind.Home:
                _text.Home();
                break;
            case KeyKind.End:
                _text.End();
                break;
            case KeyKind.Up:
                if (!_text.OnFirstLine)
                {
                    _text.MoveLine(-1);
                }
                else
                {
                    Recall(-1);
                }
                break;
            case KeyKind.Down:
                if (!_text.OnLastLine)
                {
                    _text.MoveLine(+1);
                }
                else
                {
                    Recall(+1);
                }
                break;
            case KeyKind.HistoryPrevious:
                Recall(-1);
                break;
            case KeyKind.HistoryNext:
                Recall(+1);
                break;
            case KeyKind.KillToStart:
                _text.KillToStart();
                break;
            case KeyKind.KillToEnd:
                _text.KillToEnd();
                break;
            case KeyKind.KillWordBack:
                _text.KillWordBack();
                break;
            case KeyKind.KillWordForward:
                _text.KillWordForward();
                break;
            case KeyKind.ClearScreen:
                _screen.Clear();
                break;
        }
        return null;
    }

    private void Recall(int direction)
    {
        var entries = _history.Entries;
        var index = _historyIndex + direction;
        if (index < 0 || index > entries.Count)
        {
            return;
        }
        if (_historyIndex == entries.Count)
        {
            _draft = _text.ToString();
        }
        _historyIndex = index;
        _text.Set(index == entries.Count ? _draft : entries[index]);
    }

    /// <summary>
    /// The message in <paramref name="text"/>: what lies between a <c>"""</c> line and a closing <c>"""</c> line when the
    /// text is such a block (<paramref name="fenced"/>: it is a message whatever its first character), else the text.
    /// </summary>
    public static string Unfence(string text, out bool fenced)
    {
        ArgumentNullException.ThrowIfNull(text);
        var lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        var first = Array.FindIndex(lines, l => l.Trim().Length > 0);
        var last = Array.FindLastIndex(lines, l => l.Trim().Length > 0);
        fenced = first >= 0 && last > first && lines[first].Trim() == Fence && lines[last].Trim() == Fence;
        return fenced ? string.Join('\n', lines[(first + 1)..last]) : text;
    }
}
