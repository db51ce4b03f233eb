namespace ConversationLedger.Cli.Rendering;

/// <summary>An entry whose text holds what <c>ledger search</c> looked for.</summary>
/// <param name="Key">The thread.</param>
/// <param name="Entry">The entry: a message, an edit's new text, a system prompt or a summary.</param>
/// <param name="Role"><c>user</c> or <c>assistant</c> for a message or an edit, else null.</param>
/// <param name="Snippet">The text around the first match, on one line, cut with "…".</param>
/// <param name="At">Where the match starts in <paramref name="Snippet"/>.</param>
/// <param name="Length">The match's length.</param>
public sealed record SearchMatch(ThreadKey Key, LedgerEntry Entry, string? Role, string Snippet, int At, int Length)
{
    private const int Before = 40;
    private const int After = 80;

    /// <summary>The match in <paramref name="entry"/>, or null when its text does not hold <paramref name="query"/> (case ignored).</summary>
    public static SearchMatch? Find(ThreadKey key, LedgerEntry entry, string query)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentException.ThrowIfNullOrEmpty(query);
        var (text, role) = entry switch
        {
            MessageEntry m => (m.Message.Text, RoleName(m.Message.Role)),
            EditEntry { Retracted: false } e => (e.Replacement.Text, RoleName(e.Replacement.Role)),
            SystemPromptEntry s => (s.Text, null),
            SummaryEntry s => (s.Text, null),
            _ => ((string?)null, (string?)null),
        };
        var at = text?.IndexOf(query, StringComparison.OrdinalIgnoreCase) ?? -1;
        if (text is null || at < 0)
        {
            return null;
        }
        var start = Math.Max(0, at - Before);
        var end = Math.Min(text.Length, at + query.Length + After);
        var prefix = start > 0 ? "…" : "";
        var snippet = prefix + text[start..end].ReplaceLineEndings(" ") + (end < text.Length ? "…" : "");
        // Line endings of one character keep every offset; a \r\n before the match shifts it by one each.
        var shift = text[start..at].Length - text[start..at].ReplaceLineEndings(" ").Length;
        return new SearchMatch(key, entry, role, snippet, prefix.Length + at - start - shift, query.Length);
    }

    private static string RoleName(ConversationLedger.Role role) => role == ConversationLedger.Role.User ? "user" : "assistant";
}
