using ConversationLedger.Postgres;
using ConversationLedger.Redis;
using ConversationLedger.Sqlite;
using StackExchange.Redis;

namespace ConversationLedger.Cli.Hosting;

/// <summary>Opens the store a <see cref="StoreLocation"/> names; SQLite files and their folders are created on first use.</summary>
public sealed class StoreOpener : IStoreOpener
{
    /// <inheritdoc />
    public async Task<IConversationStore> OpenAsync(StoreLocation location, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(location);
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            switch (location.Kind)
            {
                case StoreKind.Memory:
                    return new InMemoryConversationStore();
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
