namespace ConversationLedger.Extensions.DependencyInjection;

/// <summary>A PostgreSQL data source the container opened, and so disposes.</summary>
internal sealed class LedgerNpgsqlDataSource(Npgsql.NpgsqlDataSource dataSource) : IAsyncDisposable
{
    public Npgsql.NpgsqlDataSource DataSource { get; } = dataSource;

    public ValueTask DisposeAsync() => DataSource.DisposeAsync();
}
