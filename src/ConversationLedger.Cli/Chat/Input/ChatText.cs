using System.Text;
using System.Text.RegularExpressions;

namespace ConversationLedger.Cli.Chat.Input;

/// <summary>
/// What typed, pasted or edited text becomes before it is a message: line endings as <c>\n</c>, terminal escape
/// sequences and control characters removed (tabs and newlines stay), indentation kept, blank lines around it dropped.
/// </summary>
public static partial class ChatText
{
    /// <summary>The text with newlines normalised and escape sequences and control characters (but tabs and newlines) removed.</summary>
    public static string CleanPaste(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        text = EscapeSequence().Replace(text.Replace("\r\n", "\n", StringComparison.Ordinal).Replace('\r', '\n'), "");
        var clean = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            // C0 and C1 controls and DEL; a message keeps only its newlines and tabs.
            if (c is '\n' or '\t' || !char.IsControl(c))
            {
                clean.Append(c);
            }
        }
        return clean.ToString();
    }

    /// <summary>
    /// A message as it is sent: <see cref="CleanPaste"/>, then blank lines before and after and trailing white space
    /// removed; the first line's indentation is kept (pasted code).
    /// </summary>
    public static string Clean(string text)
    {
        var clean = CleanPaste(text);
        var lines = clean.Split('\n');
        var first = 0;
        while (first < lines.Length && string.IsNullOrWhiteSpace(lines[first]))
        {
            first++;
        }
        var last = lines.Length - 1;
        while (last >= first && string.IsNullOrWhiteSpace(lines[last]))
        {
            last--;
        }
        return first > last ? "" : string.Join('\n', lines[first..(last + 1)]).TrimEnd();
    }

    // CSI (ESC [ … final), OSC (ESC ] … BEL or ST) and two-character escapes.
    [GeneratedRegex(@"\u001b(?:\[[0-?]*[ -/]*[@-~]|\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|[@-Z\\-_])?")]
    private static partial Regex EscapeSequence();
}
