using System.Text;

namespace ConversationLedger.Cli.Chat.Input;

/// <summary>What a key (or a paste) asks the line editor to do.</summary>
public enum KeyKind
{
    /// <summary>Insert <see cref="EditorKey.Text"/> (one typed character).</summary>
    Insert,
    /// <summary>Insert <see cref="EditorKey.Text"/> as pasted (bracketed paste): newlines and indentation kept, never submitted.</summary>
    Paste,
    /// <summary>Enter: submit (or a new line inside a <c>"""</c> block).</summary>
    Enter,
    /// <summary>Alt+Enter or Ctrl+J: a new line in the message.</summary>
    NewLine,
    /// <summary>Delete the character before the cursor.</summary>
    Backspace,
    /// <summary>Delete the character under the cursor.</summary>
    Delete,
    /// <summary>Ctrl+D: end of input on an empty line, otherwise delete under the cursor.</summary>
    EndOfInput,
    /// <summary>Cursor one character left.</summary>
    Left,
    /// <summary>Cursor one character right.</summary>
    Right,
    /// <summary>Cursor one word left (Ctrl+Left, Alt+B).</summary>
    WordLeft,
    /// <summary>Cursor one word right (Ctrl+Right, Alt+F).</summary>
    WordRight,
    /// <summary>Up a line, or the previous history entry.</summary>
    Up,
    /// <summary>Down a line, or the next history entry.</summary>
    Down,
    /// <summary>The previous history entry (Ctrl+P).</summary>
    HistoryPrevious,
    /// <summary>The next history entry (Ctrl+N).</summary>
    HistoryNext,
    /// <summary>Start of the line (Home, Ctrl+A).</summary>
    Home,
    /// <summary>End of the line (End, Ctrl+E).</summary>
    End,
    /// <summary>Delete from the start of the line to the cursor (Ctrl+U).</summary>
    KillToStart,
    /// <summary>Delete from the cursor to the end of the line (Ctrl+K).</summary>
    KillToEnd,
    /// <summary>Delete the word before the cursor (Ctrl+W, Alt+Backspace).</summary>
    KillWordBack,
    /// <summary>Delete the word after the cursor (Alt+D).</summary>
    KillWordForward,
    /// <summary>Clear the screen and redraw (Ctrl+L).</summary>
    ClearScreen,
    /// <summary>A key the editor does not use (Escape, F-keys, other control keys): nothing happens.</summary>
    Ignored,
}

/// <summary>One decoded key.</summary>
/// <param name="Kind">What it asks for.</param>
/// <param name="Text">The text to insert (<see cref="KeyKind.Insert"/>, <see cref="KeyKind.Paste"/>), else empty.</param>
public readonly record struct EditorKey(KeyKind Kind, string Text = "");

/// <summary>
/// Turns the bytes a terminal in raw mode sends into keys: UTF-8 text, control keys, the escape sequences of arrows,
/// Home/End/Delete (both the CSI and the application-mode SS3 forms, with Ctrl/Alt modifiers), Alt+key as ESC and the
/// key, and bracketed pastes (<c>ESC[200~ … ESC[201~</c>) as one <see cref="KeyKind.Paste"/>. Control characters
/// become editing keys or are dropped: none is ever handed over as text. Not thread-safe.
/// </summary>
public sealed class KeyDecoder
{
    private const string PasteEnd = "\u001b[201~";
    private readonly Decoder _utf8 = new UTF8Encoding(false, false).GetDecoder();
    private readonly StringBuilder _sequence = new();
    private readonly StringBuilder _paste = new();
    private readonly char[] _chars = new char[4096];
    private State _state;
    private char _highSurrogate;

    private enum State
    {
        Text,
        Escape,
        Csi,
        Ss3,
        Paste,
    }

    /// <summary>Whether a sequence is half read (an ESC waiting for what follows, or a paste still open).</summary>
    public bool Pending => _state != State.Text || _highSurrogate != '\0';

    /// <summary>Whether a bracketed paste is open (its end has not arrived): a pause is then no reason to give up on it.</summary>
    public bool InPaste => _state == State.Paste;

    /// <summary>Decodes <paramref name="bytes"/> and adds the keys they complete to <paramref name="keys"/>.</summary>
    public void Feed(ReadOnlySpan<byte> bytes, List<EditorKey> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        while (bytes.Length > 0)
        {
            var take = Math.Min(bytes.Length, _chars.Length / 2);
            var count = _utf8.GetChars(bytes[..take], _chars, flush: false);
            for (var i = 0; i < count; i++)
            {
                Feed(_chars[i], keys);
            }
            bytes = bytes[take..];
        }
    }

    /// <summary>
    /// Called when no more input came for a moment: a lone ESC was the Escape key (ignored), a broken sequence is
    /// dropped. An open paste stays open.
    /// </summary>
    public void Timeout(List<EditorKey> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        if (_state is State.Escape or State.Csi or State.Ss3)
        {
            _sequence.Clear();
            _state = State.Text;
            keys.Add(new EditorKey(KeyKind.Ignored));
        }
    }

    private void Feed(char c, List<EditorKey> keys)
    {
        switch (_state)
        {
            case State.Paste:
                _paste.Append(c);
                if (c == '~' && _paste.Length >= PasteEnd.Length && _paste.ToString(_paste.Length - PasteEnd.Length, PasteEnd.Length) == PasteEnd)
                {
                    _paste.Length -= PasteEnd.Length;
                    keys.Add(new EditorKey(KeyKind.Paste, ChatText.CleanPaste(_paste.ToString())));
                    _paste.Clear();
                    _state = State.Text;
                }
                return;
            case State.Escape:
                _state = State.Text;
                switch (c)
                {
                    case '[':
                        _state = State.Csi;
                        _sequence.Clear();
                        return;
                    case 'O':
                        _state = State.Ss3;
                        return;
                    case '\r' or '\n':
                        keys.Add(new EditorKey(KeyKind.NewLine));
                        return;
                    case 'b' or 'B':
                        keys.Add(new EditorKey(KeyKind.WordLeft));
                        return;
                    case 'f' or 'F':
                        keys.Add(new EditorKey(KeyKind.WordRight));
                        return;
                    case 'd' or 'D':
                        keys.Add(new EditorKey(KeyKind.KillWordForward));
                        return;
                    case '\u007f' or '\b':
                        keys.Add(new EditorKey(KeyKind.KillWordBack));
                        return;
                    case '\u001b':
                        // ESC ESC: the first was the Escape key; the second may start a sequence.
                        keys.Add(new EditorKey(KeyKind.Ignored));
                        _state = State.Escape;
                        return;
                    default:
                        keys.Add(new EditorKey(KeyKind.Ignored));
                        return;
                }
            case State.Ss3:
                _state = State.Text;
                keys.Add(new EditorKey(c switch
                {
                    'A' => KeyKind.Up,
                    'B' => KeyKind.Down,
                    'C' => KeyKind.Right,
                    'D' => KeyKind.Left,
                    'H' => KeyKind.Home,
                    'F' => KeyKind.End,
                    'M' => KeyKind.Enter, // keypad Enter in application mode
                    _ => KeyKind.Ignored,
                }));
                return;
            case State.Csi:
                if (c is >= '\u0040' and <= '\u007e')
                {
                    _state = State.Text;
                    var parameters = _sequence.ToString();
                    _sequence.Clear();
                    if (c == '~' && parameters == "200")
                    {
                        _state = State.Paste;
                        _paste.Clear();
                        return;
                    }
                    keys.Add(new EditorKey(Csi(parameters, c)));
                }
                else if (_sequence.Length < 32)
                {
                    _sequence.Append(c);
                }
                return;
        }

        // Text.
        if (char.IsHighSurrogate(c))
        {
            _highSurrogate = c;
            return;
        }
        if (char.IsLowSurrogate(c))
        {
            if (_highSurrogate != '\0')
            {
                keys.Add(new EditorKey(KeyKind.Insert, new string([_highSurrogate, c])));
            }
            _highSurrogate = '\0';
            return;
        }
        _highSurrogate = '\0';
        var kind = c switch
        {
            '\u001b' => (KeyKind?)null,
            '\r' => KeyKind.Enter,
            '\n' => KeyKind.NewLine, // Ctrl+J
            '\u007f' or '\b' => KeyKind.Backspace,
            '\u0001' => KeyKind.Home, // Ctrl+A
            '\u0002' => KeyKind.Left, // Ctrl+B
            '\u0004' => KeyKind.EndOfInput, // Ctrl+D
            '\u0005' => KeyKind.End, // Ctrl+E
            '\u0006' => KeyKind.Right, // Ctrl+F
            '\u000b' => KeyKind.KillToEnd, // Ctrl+K
            '\u000c' => KeyKind.ClearScreen, // Ctrl+L
            '\u000e' => KeyKind.HistoryNext, // Ctrl+N
            '\u0010' => KeyKind.HistoryPrevious, // Ctrl+P
            '\u0015' => KeyKind.KillToStart, // Ctrl+U
            '\u0017' => KeyKind.KillWordBack, // Ctrl+W
            '\t' => KeyKind.Insert,
            _ when char.IsControl(c) => KeyKind.Ignored,
            _ => KeyKind.Insert,
        };
        if (kind is null)
        {
            _state = State.Escape;
            return;
        }
        keys.Add(kind == KeyKind.Insert ? new EditorKey(KeyKind.Insert, c.ToString()) : new EditorKey(kind.Value));
    }

    // CSI [params] final: arrows (with ;5 = Ctrl or ;3 = Alt: words), Home/End in their several spellings, Delete.
    private static KeyKind Csi(string parameters, char final)
    {
        var modified = parameters.Contains(';', StringComparison.Ordinal) && parameters.Split(';')[^1] is "3" or "5" or "9";
        return final switch
        {
            'A' => KeyKind.Up,
            'B' => KeyKind.Down,
            'C' => modified ? KeyKind.WordRight : KeyKind.Right,
            'D' => modified ? KeyKind.WordLeft : KeyKind.Left,
            'H' => KeyKind.Home,
            'F' => KeyKind.End,
            '~' => parameters.Split(';')[0] switch
            {
                "1" or "7" => KeyKind.Home,
                "4" or "8" => KeyKind.End,
                "3" => KeyKind.Delete,
                _ => KeyKind.Ignored,
            },
            _ => KeyKind.Ignored,
        };
    }
}
