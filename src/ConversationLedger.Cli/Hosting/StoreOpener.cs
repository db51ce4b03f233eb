namespace ConversationLedger.Cli.Hosting;

/// <summary>Opens the stores this build contains.</summary>
public sealed class StoreOpener : IStoreOpener
{
    /// <inheritdoc />
    public Task<IConversationStore> OpenAsync(StoreLocation location, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(location);
        cancellationToken.ThrowIfCancellationRequested();
        IConversationStore store = location.Kind switch
        {
            StoreKind.Memory => new InMemoryConversationStore(),
            // Each of these becomes one line when its store is merged (branch "stores").
            _ => throw new LedgerException($"the {location.Kind.ToString().ToLowerInvariant()} store is not in this build yet; use --store memory:"),
        };
        return Task.FromResult(store);
    }
}
