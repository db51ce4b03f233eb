using System.Text;
using Spectre.Console;

namespace ConversationLedger.Cli.Chat.Input;

/// <summary>
/// How the line editor draws on the terminal: the prompt and the text, redrawn in place after every key, soft-wrapped at
/// the terminal's width, continuation lines marked dimly. Remembers how many rows it drew above the cursor so the next
/// drawing starts from the top of the last one.
/// </summary>
internal sealed class EditorScreen(ITerminal terminal)
{
    private const string Dim = "\u001b[2m";
    private const string Reset = "\u001b[0m";

    private int _rowsAboveCursor;
    private string _prompt = "> ";
    private string? _promptStyle;

    /// <summary>Starts a new read: nothing drawn yet, under this prompt (<paramref name="promptStyle"/> null: no colours at all).</summary>
    public void Begin(string prompt, string? promptStyle)
    {
        _prompt = prompt;
        _promptStyle = promptStyle;
        _rowsAboveCursor = 0;
    }

    /// <summary>Writes to the terminal as is.</summary>
    public void Write(string text)
    {
        terminal.Output.Write(text);
        terminal.Output.Flush();
    }

    /// <summary>Clears the screen; the next drawing starts at its top.</summary>
    public void Clear()
    {
        Write("\u001b[H\u001b[2J");
        _rowsAboveCursor = 0;
    }

    /// <summary>
    /// Redraws the prompt and the text from the top of what was drawn before, then puts the cursor where it belongs.
    /// Rows taller than the terminal are shown through a window that holds the cursor; the <paramref name="final"/>
    /// drawing shows them all and leaves the cursor at the end.
    /// </summary>
    public void Render(EditBuffer text, bool final = false)
    {
        var width = Math.Max(10, terminal.Width);
        var (rows, cursorRow, cursorColumn) = Layout(text, width);
        var first = 0;
        var count = rows.Count;
        var room = Math.Max(1, terminal.Height - 1);
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
                output.Append(_promptStyle is not null ? style + prefix + Reset : prefix);
            }
            output.Append(body);
        }
        if (final)
        {
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
    private (List<(string Prefix, string Body)> Rows, int CursorRow, int CursorColumn) Layout(EditBuffer text, int width)
    {
        var promptWidth = _prompt.GetCellWidth();
        var continuation = "...".PadRight(Math.Max(promptWidth, 4));
        var rows = new List<(string Prefix, StringBuilder Body)> { (_prompt, new StringBuilder()) };
        var column = promptWidth;
        int cursorRow = -1, cursorColumn = 0;
        for (var i = 0; i <= text.Length; i++)
        {
            if (column >= width)
            {
                rows.Add(("", new StringBuilder()));
                column = 0;
            }
            if (i == text.Cursor)
            {
                (cursorRow, cursorColumn) = (rows.Count - 1, column);
            }
            if (i == text.Length)
            {
                break;
            }
            var c = text[i];
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
            else if (char.IsHighSurrogate(c) && i + 1 < text.Length)
            {
                shown = text.ToString(i, 2);
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
}
