using System.Text;

namespace ConversationLedger.Cli.Chat.Input;

/// <summary>
/// The text being typed and the cursor in it, with the moves and deletions the editor's keys make. The cursor never
/// lands between the two halves of a surrogate pair. Knows nothing of the terminal.
/// </summary>
internal sealed class EditBuffer
{
    private readonly StringBuilder _text = new();

    /// <summary>The text's length in chars.</summary>
    public int Length => _text.Length;

    /// <summary>Where the cursor is, in chars from the start.</summary>
    public int Cursor { get; private set; }

    /// <summary>The char at <paramref name="index"/>.</summary>
    public char this[int index] => _text[index];

    /// <summary>Whether the cursor is on the first line of a multi-line text.</summary>
    public bool OnFirstLine => LineStart(Cursor) == 0;

    /// <summary>Whether the cursor is on the last line of a multi-line text.</summary>
    public bool OnLastLine => LineEnd(Cursor) == _text.Length;

    /// <summary>Replaces the text and puts the cursor at its end.</summary>
    public void Set(string text)
    {
        _text.Clear().Append(text);
        Cursor = _text.Length;
    }

    /// <summary>Puts the cursor at the end.</summary>
    public void MoveToEnd() => Cursor = _text.Length;

    /// <summary>Inserts at the cursor and moves past what was inserted.</summary>
    public void Insert(string text)
    {
        _text.Insert(Cursor, text);
        Cursor += text.Length;
    }

    /// <summary>Deletes the character before the cursor.</summary>
    public void DeleteBack()
    {
        if (Cursor > 0)
        {
            var width = PreviousWidth(Cursor);
            _text.Remove(Cursor - width, width);
            Cursor -= width;
        }
    }

    /// <summary>Deletes the character under the cursor.</summary>
    public void DeleteForward()
    {
        if (Cursor < _text.Length)
        {
            _text.Remove(Cursor, NextWidth(Cursor));
        }
    }

    /// <summary>A character left.</summary>
    public void Left() => Cursor -= Cursor >= 2 && PreviousWidth(Cursor) == 2 ? 2 : Cursor > 0 ? 1 : 0;

    /// <summary>A character right.</summary>
    public void Right() => Cursor += Cursor < _text.Length ? NextWidth(Cursor) : 0;

    /// <summary>To the start of the word before the cursor.</summary>
    public void WordLeft() => Cursor = WordStartBefore(Cursor);

    /// <summary>To the end of the word after the cursor.</summary>
    public void WordRight() => Cursor = WordEndAfter(Cursor);

    /// <summary>To the start of the line.</summary>
    public void Home() => Cursor = LineStart(Cursor);

    /// <summary>To the end of the line.</summary>
    public void End() => Cursor = LineEnd(Cursor);

    /// <summary>A line up (<paramref name="direction"/> −1) or down (+1), keeping the column where the line is long enough.</summary>
    public void MoveLine(int direction)
    {
        var start = LineStart(Cursor);
        var column = Cursor - start;
        var target = direction < 0 ? LineStart(start - 1) : LineEnd(Cursor) + 1;
        Cursor = Math.Min(target + column, LineEnd(target));
    }

    /// <summary>Deletes from the start of the line to the cursor.</summary>
    public void KillToStart()
    {
        var start = LineStart(Cursor);
        _text.Remove(start, Cursor - start);
        Cursor = start;
    }

    /// <summary>Deletes from the cursor to the end of the line.</summary>
    public void KillToEnd() => _text.Remove(Cursor, LineEnd(Cursor) - Cursor);

    /// <summary>Deletes the word before the cursor.</summary>
    public void KillWordBack()
    {
        var from = WordStartBefore(Cursor);
        _text.Remove(from, Cursor - from);
        Cursor = from;
    }

    /// <summary>Deletes the word after the cursor.</summary>
    public void KillWordForward() => _text.Remove(Cursor, WordEndAfter(Cursor) - Cursor);

    /// <summary>Whether a <c>"""</c> line opened a block that no <c>"""</c> line has closed yet (then Enter is a new line).</summary>
    public bool InOpenBlock()
    {
        var lines = _text.ToString().Split('\n');
        if (lines[0].Trim() != LineEditor.Fence)
        {
            return false;
        }
        return lines.Length < 2 || lines[^1].Trim() != LineEditor.Fence;
    }

    /// <summary>The text from <paramref name="index"/>, <paramref name="length"/> chars.</summary>
    public string ToString(int index, int length) => _text.ToString(index, length);

    /// <inheritdoc />
    public override string ToString() => _text.ToString();

    private int PreviousWidth(int index) =>
        index >= 2 && char.IsLowSurrogate(_text[index - 1]) && char.IsHighSurrogate(_text[index - 2]) ? 2 : 1;

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
}
