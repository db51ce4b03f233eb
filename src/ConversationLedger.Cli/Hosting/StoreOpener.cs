using ConversationLedger.Postgres;
using ConversationLedger.Redis;
using ConversationLedger.Sqlite;
using Microsoft.Data.Sqlite;
using StackExchange.Redis;

namespace ConversationLedger.Cli.Hosting;

/// <summary>
/// Opens the store a <see cref="StoreLocation"/> names; SQLite files and their folders are created on first use by a
/// command that writes, and opened read-only (<c>Mode=ReadOnly</c>) by one that only reads.
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
            switch (location.Kind)
            {
                case StoreKind.Memory:
                    return new InMemoryConversationStore();
                case StoreKind.Sqlite when access == StoreAccess.ReadOnly:
                    return OpenSqliteReadOnly(location.Target);
                case StoreKind.Sqlite:
                    if (!location.Target.Contains('=', StringComparison.Ordinal) && Path.GetDirectoryName(Path.GetFullPath(location.Target)) is { } folder)
                    {
                        Directory.CreateDirectory(folder);
                    }
                    return new SqliteConversationStore(location.Target);
                case StoreKind.Postgres:
                    return new PostgresConversationStore(location.Target);
                default:
                    var redis = await ConnectionMultiplexer.ConnectAsync(location.Target).WaitAsync(cancellationToken);
                    return new OwningRedisStore(new RedisConversationStore(redis), redis);
            }
        }
        catch (Exception ex) when (ex is not LedgerException and not OperationCanceledException)
        {
            // Driver errors (bad connection string, server down, unwritable file) become one clear line.
            throw new LedgerException($"cannot open the store {location}: {ex.Message}", ex);
        }
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

    /// <summary>A Redis store that closes its connection when disposed.</summary>
    private sealed class OwningRedisStore(RedisConversationStore inner, IConnectionMultiplexer connection) : IConversationStore, IAsyncDisposable
    {
        public Task<ThreadHead> GetHeadAsync(ThreadKey key, CancellationToken cancellationToken = default) => inner.GetHeadAsync(key, cancellationToken);

        public Task<AppendResult> AppendAsync(ThreadKey key, long expectedSequence, IReadOnlyList<LedgerEntry> entries, CancellationToken cancellationToken = default) =>
            inner.AppendAsync(key, expectedSequence, entries, cancellationToken);

        public Task<ThreadWindow> ReadWindowAsync(ThreadKey key, WindowSpec window, CancellationToken cancellationToken = default) =>
            inner.ReadWindowAsync(key, window, cancellationToken);

        public Task<IReadOnlyList<LedgerEntry>> ReadEntriesAsync(ThreadKey key, long afterSequence, int limit, CancellationToken cancellationToken = default) =>
            inner.ReadEntriesAsync(key, afterSequence, limit, cancellationToken);

        public Task<ThreadPage> ListThreadsAsync(string tenant, string? scope, PageRequest page, CancellationToken cancellationToken = default) =>
            inner.ListThreadsAsync(tenant, scope, page, cancellationToken);

        public Task<ThreadHead> ForkAsync(ThreadKey source, long atSequence, ThreadKey target, CancellationToken cancellationToken = default) =>
            inner.ForkAsync(source, atSequence, target, cancellationToken);

        public Task<bool> DeleteThreadAsync(ThreadKey key, CancellationToken cancellationToken = default) => inner.DeleteThreadAsync(key, cancellationToken);

        public Task<int> DeleteTenantAsync(string tenant, CancellationToken cancellationToken = default) => inner.DeleteTenantAsync(tenant, cancellationToken);

        public Task<bool> TryAcquireTurnLeaseAsync(ThreadKey key, string holder, TimeSpan duration, CancellationToken cancellationToken = default) =>
            inner.TryAcquireTurnLeaseAsync(key, holder, duration, cancellationToken);

        public Task<bool> ReleaseTurnLeaseAsync(ThreadKey key, string holder, CancellationToken cancellationToken = default) =>
            inner.ReleaseTurnLeaseAsync(key, holder, cancellationToken);

        public async ValueTask DisposeAsync() => await connection.DisposeAsync();
    }
}
