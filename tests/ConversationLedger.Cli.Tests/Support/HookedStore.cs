namespace ConversationLedger.Cli.Tests.Support;

/// <summary>A store that tells <paramref name="after"/> of each call once the inner store has answered it.</summary>
public sealed class HookedStore(IConversationStore inner, Action<string> after) : IConversationStore
{
    private async Task<T> Call<T>(string name, Task<T> call)
    {
        var result = await call;
        after(name);
        return result;
    }

    public Task<ThreadHead> GetHeadAsync(ThreadKey key, CancellationToken cancellationToken = default) =>
        Call(nameof(GetHeadAsync), inner.GetHeadAsync(key, cancellationToken));

    public Task<AppendResult> AppendAsync(ThreadKey key, long expectedSequence, IReadOnlyList<LedgerEntry> entries, CancellationToken cancellationToken = default) =>
        Call(nameof(AppendAsync), inner.AppendAsync(key, expectedSequence, entries, cancellationToken));

    public Task<ThreadWindow> ReadWindowAsync(ThreadKey key, WindowSpec window, CancellationToken cancellationToken = default) =>
        Call(nameof(ReadWindowAsync), inner.ReadWindowAsync(key, window, cancellationToken));

    public Task<IReadOnlyList<LedgerEntry>> ReadEntriesAsync(ThreadKey key, long afterSequence, int limit, CancellationToken cancellationToken = default) =>
        Call(nameof(ReadEntriesAsync), inner.ReadEntriesAsync(key, afterSequence, limit, cancellationToken));

    public Task<ThreadPage> ListThreadsAsync(string tenant, string? scope, PageRequest page, CancellationToken cancellationToken = default) =>
        Call(nameof(ListThreadsAsync), inner.ListThreadsAsync(tenant, scope, page, cancellationToken));

    public Task<ThreadHead> ForkAsync(ThreadKey source, long atSequence, ThreadKey target, CancellationToken cancellationToken = default) =>
        Call(nameof(ForkAsync), inner.ForkAsync(source, atSequence, target, cancellationToken));

    public Task<bool> DeleteThreadAsync(ThreadKey key, CancellationToken cancellationToken = default) =>
        Call(nameof(DeleteThreadAsync), inner.DeleteThreadAsync(key, cancellationToken));

    public Task<int> DeleteTenantAsync(string tenant, CancellationToken cancellationToken = default) =>
        Call(nameof(DeleteTenantAsync), inner.DeleteTenantAsync(tenant, cancellationToken));

    public Task<bool> TryAcquireTurnLeaseAsync(ThreadKey key, string holder, TimeSpan duration, CancellationToken cancellationToken = default) =>
        Call(nameof(TryAcquireTurnLeaseAsync), inner.TryAcquireTurnLeaseAsync(key, holder, duration, cancellationToken));

    public Task<bool> ReleaseTurnLeaseAsync(ThreadKey key, string holder, CancellationToken cancellationToken = default) =>
        Call(nameof(ReleaseTurnLeaseAsync), inner.ReleaseTurnLeaseAsync(key, holder, cancellationToken));
}
