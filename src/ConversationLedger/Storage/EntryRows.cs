using System.Data.Common;

namespace ConversationLedger.Storage;

/// <summary>
/// Entry rows of the SQL stores, for store implementations: the columns they select, in one order, and how a row becomes
/// an entry. Only the recorded time is stored differently (ticks in SQLite, <c>timestamptz</c> in PostgreSQL), so each
/// store reads that column itself.
/// </summary>
public static class EntryRows
{
    /// <summary>The columns of an entry row, in the order <see cref="Read"/> expects them.</summary>
    public const string Columns = "sequence, kind, payload, recorded_at, turn_id, tokens, running_tokens, running_messages";

    /// <summary>The position of <c>recorded_at</c> in <see cref="Columns"/>.</summary>
    public const int RecordedAtColumn = 3;

    /// <summary>The entry of the reader's current row, selected as <see cref="Columns"/>.</summary>
    /// <exception cref="LedgerFormatException">The payload does not match its kind.</exception>
    public static LedgerEntry Read(DbDataReader reader, DateTimeOffset recordedAt)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return EntryCodec.Decode(reader.GetString(1), reader.GetString(2), reader.GetInt64(0), recordedAt,
            reader.IsDBNull(4) ? null : reader.GetString(4), reader.GetInt32(5), reader.GetInt64(6), reader.GetInt64(7));
    }

    /// <summary>Runs a query that selects <see cref="Columns"/> and returns its entries in the order read.</summary>
    /// <param name="command">The query.</param>
    /// <param name="recordedAt">Reads the row's <c>recorded_at</c> (column <see cref="RecordedAtColumn"/>) as the store stores it.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    public static async Task<IReadOnlyList<LedgerEntry>> ReadAllAsync(DbCommand command, Func<DbDataReader, DateTimeOffset> recordedAt,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(command);
        ArgumentNullException.ThrowIfNull(recordedAt);
        var entries = new List<LedgerEntry>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            entries.Add(Read(reader, recordedAt(reader)));
        }
        return entries;
    }
}
