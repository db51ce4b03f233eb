using System.Globalization;
using System.Text;

namespace ConversationLedger.Storage;

/// <summary>
/// Keyset cursor for thread listings (newest activity first, then scope and thread id), so pages stay stable
/// while threads are written. For store implementations: shared by every store so cursors look the same everywhere.
/// </summary>
public sealed record ThreadCursor(DateTimeOffset UpdatedAt, string Scope, string ThreadId)
{
    /// <summary>The cursor after a thread.</summary>
    public static ThreadCursor After(ThreadHead head)
    {
        ArgumentNullException.ThrowIfNull(head);
        return new ThreadCursor(head.UpdatedAt, head.Key.Scope, head.Key.ThreadId);
    }

    /// <summary>
    /// A page from up to <paramref name="limit"/> + 1 threads in listing order: stores read one more than they return,
    /// and the extra one says whether a next page exists (its cursor is the one after the page's last thread).
    /// </summary>
    public static ThreadPage PageFromOneMore(IReadOnlyList<ThreadHead> heads, int limit)
    {
        ArgumentNullException.ThrowIfNull(heads);
        var next = heads.Count > limit ? After(heads[limit - 1]).Encode() : null;
        return new ThreadPage(heads.Take(limit).ToArray(), next);
    }

    /// <summary>The cursor as an opaque string.</summary>
    public string Encode() => Convert.ToBase64String(Encoding.UTF8.GetBytes(
        $"{UpdatedAt.UtcTicks.ToString(CultureInfo.InvariantCulture)}\n{Scope}\n{ThreadId}"));

    /// <summary>Reads a cursor; null for null.</summary>
    /// <exception cref="ArgumentException">The cursor was not made by <see cref="Encode"/>.</exception>
    public static ThreadCursor? Decode(string? cursor)
    {
        if (cursor is null)
        {
            return null;
        }
        try
        {
            var parts = Encoding.UTF8.GetString(Convert.FromBase64String(cursor)).Split('\n');
            if (parts.Length == 3 && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var ticks))
            {
                return new ThreadCursor(new DateTimeOffset(ticks, TimeSpan.Zero), parts[1], parts[2]);
            }
        }
        catch (FormatException)
        {
        }
        throw new ArgumentException("not a cursor returned by a thread listing", nameof(cursor));
    }

    /// <summary>Whether a thread comes after this cursor in listing order.</summary>
    public bool Precedes(ThreadHead head)
    {
        ArgumentNullException.ThrowIfNull(head);
        var c = head.UpdatedAt.UtcTicks.CompareTo(UpdatedAt.UtcTicks);
        if (c != 0)
        {
            return c < 0;
        }
        c = string.CompareOrdinal(head.Key.Scope, Scope);
        return c != 0 ? c > 0 : string.CompareOrdinal(head.Key.ThreadId, ThreadId) > 0;
    }
}
