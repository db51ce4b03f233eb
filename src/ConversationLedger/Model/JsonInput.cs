using System.Buffers;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Unicode;

namespace ConversationLedger;

/// <summary>
/// Checks JSON where it enters the ledger. System.Text.Json parses strings that are not text (an escaped unpaired
/// surrogate, bytes that are not UTF-8) and throws only when they are read, and every reader it offers has a depth
/// limit; both are refused at the door so nothing accepted fails later.
/// </summary>
internal static class JsonInput
{
    /// <summary>Throws when <paramref name="element"/> nests deeper than <paramref name="maxDepth"/> or holds a string that is not text.</summary>
    /// <exception cref="LedgerFormatException">Names <paramref name="what"/> and the problem.</exception>
    public static void Check(JsonElement element, int maxDepth, string what)
    {
        if (Problem(JsonMarshal.GetRawUtf8Value(element), maxDepth) is { } problem)
        {
            throw new LedgerFormatException($"{what} {problem}");
        }
    }

    /// <summary>The value of a string element, checked as <see cref="Check"/> does.</summary>
    public static string String(JsonElement element, string what)
    {
        Check(element, 1, what);
        return element.GetString()!;
    }

    /// <summary>
    /// Why already parsed JSON cannot be accepted (it nests deeper than <paramref name="maxDepth"/>, its own object or
    /// array counting 1, or a string or property name at some byte is not valid Unicode text); null when it can.
    /// </summary>
    public static string? Problem(ReadOnlySpan<byte> utf8, int maxDepth)
    {
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = maxDepth });
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType is JsonTokenType.String or JsonTokenType.PropertyName && !IsText(ref reader))
                {
                    return $"holds a string that is not valid Unicode text (an unpaired surrogate or bytes that are not UTF-8) at byte {reader.TokenStartIndex + 1}";
                }
            }
            return null;
        }
        catch (JsonException)
        {
            // The text was parsed before, so the reader's own limit is the only error left.
            return $"nests deeper than {maxDepth} levels";
        }
    }

    private static bool IsText(ref Utf8JsonReader reader)
    {
        if (!reader.ValueIsEscaped)
        {
            return Utf8.IsValid(reader.ValueSpan);
        }
        // Unescaping is where surrogates are paired up; it throws for a lone one, as reading the string later would.
        var buffer = ArrayPool<char>.Shared.Rent(reader.ValueSpan.Length);
        try
        {
            reader.CopyString(buffer);
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
        finally
        {
            ArrayPool<char>.Shared.Return(buffer);
        }
    }
}
