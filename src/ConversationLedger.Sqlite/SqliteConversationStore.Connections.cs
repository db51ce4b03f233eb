using Microsoft.Data.Sqlite;

namespace ConversationLedger.Sqlite;

// Connections: per-connection settings, and read-only files opened so that nothing is ever written beside them.
public sealed partial class SqliteConversationStore
{
    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        if (_immutableConnectionString is { } immutable)
        {
            return await OpenAsync(immutable, cancellationToken);
        }
        // A file nobody may write (chmod 444): a plain read-only open would create its -shm index beside it, read-only as
        // the file is, and that leftover stops the owner's next write once the file is writable again. Nobody writes
        // it, so with no commits waiting in a -wal file it is read as immutable (no locks, no -shm) from the start.
        if (ReadOnly && !_permissionsChecked)
        {
            _permissionsChecked = true;
            if (ImmutableForm() is { } readOnlyFile && HasNoWritePermission(readOnlyFile.Path))
            {
                _immutableConnectionString = readOnlyFile.ConnectionString;
                return await OpenAsync(readOnlyFile.ConnectionString, cancellationToken);
            }
        }
        try
        {
            return await OpenAsync(_connectionString, cancellationToken);
        }
        catch (SqliteException ex) when (ReadOnly && ex.SqliteErrorCode is 8 or 14 && File.Exists(DataSource))
        {
            // SQLITE_READONLY or SQLITE_CANTOPEN: a WAL file is read through its -shm index, which a reader that may not
            // write the folder cannot create. With no -wal file beside it (or an empty one) every commit is in the file
            // itself, so reading it as immutable reads exactly what is there.
            var fallback = ImmutableForm()
                ?? throw new LedgerException($"the database {DataSource} has commits in {DataSource}-wal that SQLite can only read with write access to the folder (to create {DataSource}-shm); open it once as a user who may write there", ex);
            _immutableConnectionString = fallback.ConnectionString;
            return await OpenAsync(fallback.ConnectionString, cancellationToken);
        }
    }

    // The file opened immutable, or null when it cannot be read that way: it is not a plain path, does not exist, or its
    // -wal file holds commits that are not in the file yet.
    private (string Path, string ConnectionString)? ImmutableForm()
    {
        if (DataSource.StartsWith("file:", StringComparison.OrdinalIgnoreCase) || DataSource is "" or ":memory:")
        {
            return null;
        }
        var path = Path.GetFullPath(DataSource);
        var wal = new FileInfo(path + "-wal");
        if (!File.Exists(path) || (wal.Exists && wal.Length > 0))
        {
            return null;
        }
        return (path, new SqliteConnectionStringBuilder(_connectionString) { DataSource = new Uri(path).AbsoluteUri + "?immutable=1" }.ToString());
    }

    private static bool HasNoWritePermission(string path) => OperatingSystem.IsWindows()
        ? File.GetAttributes(path).HasFlag(FileAttributes.ReadOnly)
        : (File.GetUnixFileMode(path) & (UnixFileMode.UserWrite | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite)) == 0;

    private async Task<SqliteConnection> OpenAsync(string connectionString, CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            await using (var pragmas = connection.CreateCommand())
            {
                // Per-connection settings: fsync at every commit, wait (not fail) while another process writes, and
                // overwrite deleted content so erasure is real. A read-only connection commits nothing: it only waits.
                pragmas.CommandText = ReadOnly
                    ? $"PRAGMA busy_timeout = {(long)BusyTimeout.TotalMilliseconds};"
                    : $"PRAGMA busy_timeout = {(long)BusyTimeout.TotalMilliseconds}; PRAGMA synchronous = FULL; PRAGMA secure_delete = ON;";
                await pragmas.ExecuteNonQueryAsync(cancellationToken);
            }
            if (!_schema.IsReady)
            {
                await _schema.EnsureAsync(ct => ReadOnly ? CheckSchemaAsync(connection, ct) : CreateSchemaAsync(connection, ct), cancellationToken);
            }
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }
}
