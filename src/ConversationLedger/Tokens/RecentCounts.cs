using System.Collections.Concurrent;

namespace ConversationLedger;

/// <summary>
/// Token counts of recently counted texts, keyed by their content. A conversation's window, its system prompt and its tools
/// are counted again on every turn (by the request builder, and by the emulator on every request it answers); byte-pair
/// encoding them again costs far more than hashing them. Bounded by the characters it holds: when full it starts over.
/// Thread-safe.
/// </summary>
internal sealed class RecentCounts(int maxChars)
{
    /// <summary>Texts shorter than this are counted each time: remembering them saves little.</summary>
    public const int MinLength = 64;

    private readonly ConcurrentDictionary<string, int> _counts = new(StringComparer.Ordinal);
    private long _chars;

    /// <summary>The count of <paramref name="text"/>, from memory or from <paramref name="count"/> (then remembered).</summary>
    public int GetOrCount(string text, Func<string, int> count)
    {
        if (text.Length < MinLength || text.Length > maxChars / 16)
        {
            return count(text);
        }
        if (_counts.TryGetValue(text, out var known))
        {
            return known;
        }
        var tokens = count(text);
        if (Interlocked.Add(ref _chars, text.Length) > maxChars)
        {
            // Starting over is cheaper than tracking what was used least recently, and the next turn refills what matters.
            _counts.Clear();
            Interlocked.Exchange(ref _chars, text.Length);
        }
        _counts.TryAdd(text, tokens);
        return tokens;
    }
}
