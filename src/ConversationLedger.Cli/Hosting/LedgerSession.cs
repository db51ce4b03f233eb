namespace ConversationLedger.Cli.Hosting;

/// <summary>
/// What one command works with: the store, the model (when the command calls it) and a <see cref="Ledger"/>
/// over both, for the tenant and scope of the command. Disposing it closes the store and stops an emulator.
/// </summary>
public sealed class LedgerSession : IAsyncDisposable
{
    private readonly ModelConnection? _model;

    private LedgerSession(IConversationStore store, ModelConnection? model, string scope, string modelId, IHistoryPolicy policy)
    {
        Store = store;
        _model = model;
        Scope = scope;
        Ledger = new Ledger(store, model?.Client ?? NoModel.Instance, new LedgerOptions { Model = modelId, HistoryPolicy = policy });
    }

    /// <summary>The ledger.</summary>
    public Ledger Ledger { get; }

    /// <summary>The store.</summary>
    public IConversationStore Store { get; }

    /// <summary>The tenant.</summary>
    public string Tenant => CliDefaults.Tenant;

    /// <summary>The scope.</summary>
    public string Scope { get; }

    /// <summary>Where replies come from, when it is not Claude.</summary>
    public string? ModelNotice => _model?.Notice;

    /// <summary>Opens the store (and the model, if <paramref name="withModel"/>) the settings and environment name.</summary>
    public static async Task<LedgerSession> OpenAsync(CliServices services, Commands.LedgerSettings settings, bool withModel,
        StoreAccess access = StoreAccess.ReadWrite, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(settings);
        var modelId = CliDefaults.ModelId(settings.Model, services.Environment);
        if (!ModelCatalog.Default.TryGet(modelId, out _))
        {
            // Said at start, before anything is opened, with what would work.
            throw new LedgerException($"unknown model {modelId}; known models: {string.Join(", ", ModelCatalog.Default.Models.Select(m => m.Id))}");
        }
        var location = CliDefaults.Store(settings.Store, services.Environment);
        var store = await services.Stores.OpenAsync(location, access, cancellationToken);
        try
        {
            var model = withModel ? await services.Models.OpenAsync(services.Environment, cancellationToken) : null;
            return new LedgerSession(store, model, settings.Scope, modelId,
                CliDefaults.Policy(settings.Policy, services.Environment));
        }
        catch
        {
            await DisposeStoreAsync(store);
            throw;
        }
    }

    /// <summary>The key of a thread in this session's tenant and scope.</summary>
    public ThreadKey Key(string threadId) => new(Tenant, Scope, threadId);

    /// <summary>The key of a thread that must exist.</summary>
    /// <exception cref="LedgerNotFoundException">It does not.</exception>
    public async Task<ThreadHead> RequireThreadAsync(string threadId, CancellationToken cancellationToken = default)
    {
        var head = await Store.GetHeadAsync(Key(threadId), cancellationToken);
        return head.Exists ? head : throw new LedgerNotFoundException($"thread {Key(threadId)} does not exist (ledger threads lists them)");
    }

    /// <summary>The conversation of a thread that must exist.</summary>
    /// <exception cref="LedgerNotFoundException">It does not.</exception>
    public async Task<Conversation> OpenExistingAsync(string threadId, CancellationToken cancellationToken = default)
    {
        await RequireThreadAsync(threadId, cancellationToken);
        return Ledger.Open(Key(threadId));
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_model is not null)
        {
            await _model.DisposeAsync();
        }
        await DisposeStoreAsync(Store);
    }

    private static async ValueTask DisposeStoreAsync(IConversationStore store)
    {
        switch (store)
        {
            case IAsyncDisposable asyncDisposable:
                await asyncDisposable.DisposeAsync();
                break;
            case IDisposable disposable:
                disposable.Dispose();
                break;
        }
    }

    /// <summary>Stands in for the model in commands that only read and write the ledger.</summary>
    private sealed class NoModel : IModelClient
    {
        public static readonly NoModel Instance = new();

        public Task<ModelResponse> SendAsync(ModelRequest request, CancellationToken cancellationToken = default) => throw Refuse();

        public IAsyncEnumerable<ModelStreamEvent> StreamAsync(ModelRequest request, CancellationToken cancellationToken = default) => throw Refuse();

        public Task<long> CountTokensAsync(ModelRequest request, CancellationToken cancellationToken = default) => throw Refuse();

        private static InvalidOperationException Refuse() => new("this command was opened without a model");
    }
}
