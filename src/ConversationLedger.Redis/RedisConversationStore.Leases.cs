using ConversationLedger.Storage;
using StackExchange.Redis;

namespace ConversationLedger.Redis;

// Turn leases: one string key per leased thread, expiring by the server's clock.
public sealed partial class RedisConversationStore
{
    /// <inheritdoc />
    /// <remarks>
    /// One string key per leased thread holding the holder's id, with a time to live (<c>PX</c>): Redis drops it when it
    /// expires, by the server's clock. Taking and renewing is one script (take if absent, renew if the holder's own), and so
    /// is releasing (delete only if the holder's own). A tenant delete removes the leases of the threads it erases; a lease on
    /// a thread that has no entries yet is left to expire.
    /// </remarks>
    public async Task<bool> TryAcquireTurnLeaseAsync(ThreadKey key, string holder, TimeSpan duration, CancellationToken cancellationToken = default)
    {
        StoreArguments.CheckLease(key, holder, duration);
        var milliseconds = Math.Max(1L, (long)Math.Ceiling(duration.TotalMilliseconds));
        var taken = await Db.ScriptEvaluateAsync(AcquireLeaseScript, [LeaseKey(key)], [holder, milliseconds]).WaitAsync(cancellationToken);
        return (long)taken == 1;
    }

    /// <inheritdoc />
    public async Task<bool> ReleaseTurnLeaseAsync(ThreadKey key, string holder, CancellationToken cancellationToken = default)
    {
        StoreArguments.CheckLease(key, holder);
        var released = await Db.ScriptEvaluateAsync(ReleaseLeaseScript, [LeaseKey(key)], [holder]).WaitAsync(cancellationToken);
        return (long)released == 1;
    }

    // KEYS: the lease. ARGV: holder, milliseconds. Takes a free (or expired: Redis dropped it) lease, or renews the holder's own.
    private const string AcquireLeaseScript = """
        local holder = redis.call('GET', KEYS[1])
        if holder and holder ~= ARGV[1] then
          return 0
        end
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
        return 1
        """;

    // KEYS: the lease. ARGV: holder. Deletes it only if that holder still holds it.
    private const string ReleaseLeaseScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then
          return redis.call('DEL', KEYS[1])
        end
        return 0
        """;
}
