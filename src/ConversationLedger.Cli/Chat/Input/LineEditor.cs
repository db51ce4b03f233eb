using System.Text;
using Spectre.Console;

namespace ConversationLedger.Cli.Chat.Input;

/// <summary>How a read at the editor ended.</summary>
public enum EditorOutcome
{
    /// <summary>A message or command was entered (<see cref="EditorResult.Text"/>).</summary>
    Line,
    /// <summary>Ctrl+D on an empty line, the terminal closed, or the read was cancelled.</summary>
    End,
    /// <summary>Ctrl+C on an empty line.</summary>
    Interrupted,
}

/// <summary>The end of one read.</summary>
/// <param name="Outcome">How it ended.</param>
/// <param name="Text">What was entered (for <see cref="EditorOutcome.Line"/>), as typed: fences and all.</param>
public readonly record struct EditorResult(EditorOutcome Outcome, string Text = "");

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

    private const string Bold = "\u001b[1m";
    private const string Dim = "\u001b[2m";
    private const string Reset = "\u001b[0m";

    private readonly ITerminal _terminal;
    private readonly InputHistory _history;
    private readonly StringBuilder _text = new();
    private int _cursor;
    private int _rowsAboveCursor;
    private int _historyIndex;
    private string _draft = "";
    private int _interrupts;
    private string _prompt = "> ";
    private string? _promptStyle;
    private bool _color;

    /// <summary>Creates an editor.</summary>
    /// <param name="terminal">The terminal.</param>
    /// <param name="history">Where entered lines are kept and recalled from.</param>
    public LineEditor(ITerminal terminal, InputHistory history)
    {
        _terminal = terminal ?? throw new ArgumentNullException(nameof(terminal));
        _history = history ?? throw new ArgumentNullException(nameof(history));
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
        _prompt = prompt;
        _promptStyle = promptStyle;
        _color = promptStyle is not null;
        // The terminal is polled, not awaited: a thread of its own, given up within one poll of a cancellation.
        return Task.Factory.StartNew(() => Read(cancellationToken), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    private EditorResult Read(CancellationToken cancellationToken)
    {
        _text.Clear();
        _cursor = 0;
        _rowsAboveCursor = 0;
        _historyIndex = _history.Entries.Count;
        _draft = "";
        Interlocked.Exchange(ref _interrupts, 0);
        var decoder = new KeyDecoder();
        var keys = new List<EditorKey>();
        var buffer = new byte[4096];
        using var raw = _terminal.EnterRawMode();
        Render();
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
                Render(final: true);
                Write("^C\r\n");
                _text.Clear();
                _cursor = 0;
                _historyIndex = _history.Entries.Count;
                Render();
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
            Render();
        }
    }

    private EditorResult Finish(EditorOutcome outcome, string text = "")
    {
        _cursor = _text.Length;
        Render(final: true);
        if (outcome == EditorOutcome.Interrupted)
        {
            Write("^C");
        }
        Write("\r\n");
        return new EditorResult(outcome, outcome == EditorOutcome.Line ? text : "");
    }

    // What a key does; an outcome when the read is over.
    private EditorOutcome? Handle(EditorKey key)
    {
        switch (key.Kind)
        {
            case KeyKind.Insert or KeyKind.Paste:
                Insert(key.Text);
                break;
            case KeyKind.Enter:
                if (!InOpenBlock())
                {
                    return EditorOutcome.Line;
                }
                Insert("\n");
                break;
            case KeyKind.NewLine:
                Insert("\n");
                break;
            case KeyKind.Backspace:
                if (_cursor > 0)
                {
                    var width = _cursor >= 2 && char.IsLowSurrogate(_text[_cursor - 1]) && char.IsHighSurrogate(_text[_cursor - 2]) ? 2 : 1;
                    _text.Remove(_cursor - width, width);
                    _cursor -= width;
                }
                break;
            case KeyKind.EndOfInput when _text.Length == 0:
                return EditorOutcome.End;
            case KeyKind.Delete or KeyKind.EndOfInput:
                if (_cursor < _text.Length)
                {
                    _text.Remove(_cursor, NextWidth(_cursor));
                }
                break;
            case KeyKind.Left:
                _cursor -= _cursor >= 2 && char.IsLowSurrogate(_text[_cursor - 1]) && char.IsHighSurrogate(_text[_cursor - 2]) ? 2 : _cursor > 0 ? 1 : 0;
                break;
            case KeyKind.Right:
                _cursor += _cursor < _text.Length ? NextWidth(_cursor) : 0;
                break;
            case KeyKind.WordLeft:
                _cursor = WordStartBefore(_cursor);
                break;
            case KeyKind.WordRight:
                _cursor = WordEndAfter(_cursor);
                break;
            case KeyKind.Home:
                _cursor = LineStart(_cursor);
                break;
            case KeyKind.End:
                _cursor = LineEnd(_cursor);
                break;
            case KeyKind.Up:
                if (LineStart(_cursor) > 0)
                {
                    MoveLine(-1);
                }
                else
                {
                    Recall(-1);
                }
                break;
            case KeyKind.Down:
                if (LineEnd(_cursor) < _text.Length)
                {
                    MoveLine(+1);
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
                var start = LineStart(_cursor);
                _text.Remove(start, _cursor - start);
                _cursor = start;
                break;
            case KeyKind.KillToEnd:
                _text.Remove(_cursor, LineEnd(_cursor) - _cursor);
                break;
            case KeyKind.KillWordBack:
                var from = WordStartBefore(_cursor);
                _text.Remove(from, _cursor - from);
                _cursor = from;
                break;
            case KeyKind.KillWordForward:
                _text.Remove(_cursor, WordEndAfter(_cursor) - _cursor);
                break;
            case KeyKind.ClearScreen:
                Write("\u001b[H\u001b[2J");
                _rowsAboveCursor = 0;
                break;
        }
        return null;
    }

    private void Insert(string text)
    {
        _text.Insert(_cursor, text);
        _cursor += text.Length;
    }

    // Inside a block that a """ line opened and no """ line has closed yet, Enter is a new line.
    private bool InOpenBlock()
    {
        var text = _text.ToString();
        var lines = text.Split('\n');
        if (lines[0].Trim() != Fence)
        {
            return false;
        }
        return lines.Length < 2 || lines[^1].Trim() != Fence;
    }

    private int NextWidth(int index) =>
        index + 1 < _text.Length && char.IsHighSurrogate(_text[index]) && char.IsLowSurrogate(_text[index + 1]) ? 2 : 1;

    private int LineStart(int index)
    {
        while (index > 0 && _text[index - 1] != '\n')
        {
            index--;
        }
        return index;
    }

    private int LineEnd(int index)
    {
        while (index < _text.Length && _text[index] != '\n')
        {
            index++;
        }
        return index;
    }

    private int WordStartBefore(int index)
    {
        while (index > 0 && char.IsWhiteSpace(_text[index - 1]))
        {
            index--;
        }
        while (index > 0 && !char.IsWhiteSpace(_text[index - 1]))
        {
            index--;
        }
        return index;
    }

    private int WordEndAfter(int index)
    {
        while (index < _text.Length && char.IsWhiteSpace(_text[index]))
        {
            index++;
        }
        while (index < _text.Length && !char.IsWhiteSpace(_text[index]))
        {
            index++;
        }
        return index;
    }

    private void MoveLine(int direction)
    {
        var start = LineStart(_cursor);
        var column = _cursor - start;
        var target = direction < 0 ? LineStart(start - 1) : LineEnd(_cursor) + 1;
        _cursor = Math.Min(target + column, LineEnd(target));
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
        _text.Clear().Append(index == entries.Count ? _draft : entries[index]);
        _cursor = _text.Length;
    }

    private void Write(string text)
    {
        _terminal.Output.Write(text);
        _terminal.Output.Flush();
    }

    // Redraws the prompt and the text from the top of what was drawn before, then puts the cursor where it belongs.
    // Rows taller than the terminal are shown through a window that holds the cursor; the final drawing shows them all.
    private void Render(bool final = false)
    {
        var width = Math.Max(10, _terminal.Width);
        var (rows, cursorRow, cursorColumn) = Layout(width);
        var first = 0;
        var count = rows.Count;
        var room = Math.Max(1, _terminal.Height - 1);
        if (!final && count > room)
        {
            first = cursorRow >= rows.Count - room ? rows.Count - room : cursorRow;
            count = room;
        }
        var output = new StringBuilder("\u001b[?25l\r");
        if (_rowsAboveCursor > 0)
        {
            output.Append("\u001b[").Append(_rowsAboveCursor).Append('A');
        }
        output.Append("\u001b[J");
        for (var i = first; i < first + count; i++)
        {
            if (i > first)
            {
                output.Append("\r\n");
            }
            var (prefix, body) = rows[i];
            if (prefix.Length > 0)
            {
                var style = i == 0 ? _promptStyle : Dim;
                output.Append(_color ? style + prefix + Reset : prefix);
            }
            output.Append(body);
        }
        if (final)
        {
            cursorRow = rows.Count - 1;
            _rowsAboveCursor = 0;
        }
        else
        {
            var visibleCursor = cursorRow - first;
            var up = count - 1 - visibleCursor;
            if (up > 0)
            {
                output.Append("\u001b[").Append(up).Append('A');
            }
            output.Append('\r');
            if (cursorColumn > 0)
            {
                output.Append("\u001b[").Append(cursorColumn).Append('C');
            }
            _rowsAboveCursor = visibleCursor;
        }
        output.Append("\u001b[?25h");
        Write(output.ToString());
    }

    // The rows the text takes at this width: the prompt before the first line, a dim continuation mark before each
    // further line, soft wraps where a row is full; tabs shown as four spaces. Where the cursor is, in rows and columns.
    private (List<(string Prefix, string Body)> Rows, int CursorRow, int CursorColumn) Layout(int width)
    {
        var promptWidth = _prompt.GetCellWidth();
        var continuation = "...".PadRight(Math.Max(promptWidth, 4));
        var rows = new List<(string Prefix, StringBuilder Body)> { (_prompt, new StringBuilder()) };
        var column = promptWidth;
        int cursorRow = -1, cursorColumn = 0;
        for (var i = 0; i <= _text.Length; i++)
        {
            if (column >= width)
            {
                rows.Add(("", new StringBuilder()));
                column = 0;
            }
            if (i == _cursor)
            {
                (cursorRow, cursorColumn) = (rows.Count - 1, column);
            }
            if (i == _text.Length)
            {
                break;
            }
            var c = _text[i];
            if (c == '\n')
            {
                rows.Add((continuation, new StringBuilder()));
                column = continuation.Length;
                continue;
            }
            string shown;
            if (c == '\t')
            {
                shown = "    ";
            }
            else if (char.IsHighSurrogate(c) && i + 1 < _text.Length)
            {
                shown = _text.ToString(i, 2);
                i++;
            }
            else
            {
                shown = c.ToString();
            }
            var cells = Math.Max(shown == "    " ? 4 : shown.GetCellWidth(), 0);
            if (column + cells > width && column > 0)
            {
                rows.Add(("", new StringBuilder()));
                column = 0;
            }
            rows[^1].Body.Append(shown);
            column += cells;
        }
        return (rows.Select(r => (r.Prefix, r.Body.ToString())).ToList(), cursorRow, cursorColumn);
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
