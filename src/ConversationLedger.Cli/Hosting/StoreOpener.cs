using ConversationLedger.Postgres;
using ConversationLedger.Redis;
using ConversationLedger.Sqlite;
using Microsoft.Data.Sqlite;

namespace ConversationLedger.Cli.Hosting;

/// <summary>
/// Opens the store a <see cref="StoreLocation"/> names; SQLite files and their folders are created on first use by a
/// command that writes, and opened read-only (<c>Mode=ReadOnly</c>) by one that only reads. A store that opened a
/// connection (PostgreSQL's pool, Redis's multiplexer) closes it when disposed.
/// </summary>
public sealed class StoreOpener : IStoreOpener
{
    /// <inheritdoc />
    public async Task<IConversationStore> OpenAsync(StoreLocation location, StoreAccess access, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(location);
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            return location.Kind switch
            {
                StoreKind.Memory => new InMemoryConversationStore(),
                StoreKind.Sqlite when access == StoreAccess.ReadOnly => OpenSqliteReadOnly(location.Target),
                StoreKind.Sqlite => OpenSqlite(location.Target),
                StoreKind.Postgres => new PostgresConversationStore(location.Target),
                StoreKind.Redis => await RedisConversationStore.ConnectAsync(location.Target, cancellationToken: cancellationToken),
                _ => throw new ArgumentOutOfRangeException(nameof(location), location.Kind, "unknown store kind"),
            };
        }
        catch (Exception ex) when (ex is not LedgerException and not OperationCanceledException)
        {
            // Driver errors (bad connection string, server down, unwritable file) become one clear line.
            throw new LedgerException($"cannot open the store {location}: {ex.Message}", ex);
        }
    }

    // A writing command creates the file's folder (SQLite creates the file itself).
    private static SqliteConversationStore OpenSqlite(string target)
    {
        if (!target.Contains('=', StringComparison.Ordinal) && Path.GetDirectoryName(Path.GetFullPath(target)) is { } folder)
        {
            Directory.CreateDirectory(folder);
        }
        return new SqliteConversationStore(target);
    }

    // A reading command neither creates the file nor writes to it (not even its schema or journal mode), so it works on a
    // file or folder the user may only read. A file that does not exist (or is empty) holds no threads: it reads as such.
    private static IConversationStore OpenSqliteReadOnly(string target)
    {
        var builder = target.Contains('=', StringComparison.Ordinal)
            ? new SqliteConnectionStringBuilder(target)
            : new SqliteConnectionStringBuilder { DataSource = target };
        if (builder.Mode == SqliteOpenMode.Memory || builder.DataSource is "" or ":memory:")
        {
            return new SqliteConversationStore(target);
        }
        var file = new FileInfo(builder.DataSource);
        if (!file.Exists || file.Length == 0)
        {
            return new InMemoryConversationStore();
        }
        builder.Mode = SqliteOpenMode.ReadOnly;
        return new SqliteConversationStore(builder.ToString());
    }
}
