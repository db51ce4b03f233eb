using System.Globalization;
using System.Text;

namespace ConversationLedger;

/// <summary>A value from the input as an error message quotes it: on one line, and short (a hostile file's 100 KB role is not repeated to the user).</summary>
internal static class Excerpt
{
    private const int MaxLength = 60;

    /// <summary>The value with control characters escaped, cut to about 60 characters with how long it was.</summary>
    public static string Of(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var shown = new StringBuilder();
        foreach (var c in value.Length > MaxLength ? value[..MaxLength] : value)
        {
            shown.Append(char.IsControl(c) ? $"\\u{(int)c:x4}" : c);
        }
        return value.Length > MaxLength
            ? string.Create(CultureInfo.InvariantCulture, $"{shown}… ({value.Length:N0} characters)")
            : shown.ToString();
    }
}
