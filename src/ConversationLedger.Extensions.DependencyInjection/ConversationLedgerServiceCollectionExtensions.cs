using ConversationLedger;
using ConversationLedger.Extensions.DependencyInjection;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers a <see cref="Ledger"/> in an <see cref="IServiceCollection"/>.</summary>
public static class ConversationLedgerServiceCollectionExtensions
{
    /// <summary>The configuration section <see cref="AddConversationLedger(IServiceCollection, Action{LedgerOptions})"/> names in its messages.</summary>
    public const string DefaultSectionName = "ConversationLedger";

    /// <summary>
    /// Registers a singleton <see cref="Ledger"/> with settings set in code. Choose its store and model on the builder
    /// (<c>UseSqlite</c>, <c>UseAnthropic</c> …). The ledger logs through the container's <see cref="ILoggerFactory"/> and
    /// creates its meter with its <see cref="IMeterFactory"/>, when there are ones (a host registers both). The settings are checked when the host starts
    /// (<see cref="OptionsValidationException"/> naming each setting, e.g. <c>ConversationLedger:MaxTokens must be positive, not 0</c>).
    /// </summary>
    public static ConversationLedgerBuilder AddConversationLedger(this IServiceCollection services, Action<LedgerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = AddCore(services, DefaultSectionName);
        if (configure is not null)
        {
            options.Configure(configure);
        }
        return new ConversationLedgerBuilder(services);
    }

    /// <summary>
    /// Registers a singleton <see cref="Ledger"/> with settings bound from <paramref name="configuration"/> (a section such as
    /// <c>configuration.GetSection("ConversationLedger")</c>: <c>Model</c>, <c>MaxTokens</c>, <c>Policy</c> as a policy name,
    /// <c>Thinking:Mode</c> …). Checked when the host starts, each problem named by its configuration key.
    /// </summary>
    public static ConversationLedgerBuilder AddConversationLedger(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        var path = configuration is IConfigurationSection section ? section.Path : DefaultSectionName;
        AddCore(services, path).Bind(configuration);
        return new ConversationLedgerBuilder(services);
    }

    private static OptionsBuilder<LedgerOptions> AddCore(IServiceCollection services, string path)
    {
        var options = services.AddOptions<LedgerOptions>();
        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<LedgerOptions>>(new LedgerOptionsValidator(path)));
        services.TryAddSingleton(new LedgerServices());
        services.TryAddSingleton(sp => new Ledger(
            sp.GetService<IConversationStore>() ?? throw new InvalidOperationException(
                "no conversation store is registered: call UseSqlite, UsePostgres, UseRedis or UseInMemory on AddConversationLedger()"),
            sp.GetService<IModelClient>() ?? throw new InvalidOperationException(
                "no model client is registered: call UseAnthropic or UseEmulator on AddConversationLedger()"),
            // A copy: the ledger makes its options read-only, and the container's instance stays what configuration bound.
            sp.GetRequiredService<IOptions<LedgerOptions>>().Value.Clone(),
            WithHostDiagnostics(sp.GetRequiredService<LedgerServices>(), sp)));
        return options;
    }

    // The host's logging and metrics unless the services passed to UseServices name their own.
    private static LedgerServices WithHostDiagnostics(LedgerServices services, IServiceProvider provider) => services with
    {
        LoggerFactory = services.LoggerFactory ?? provider.GetService<ILoggerFactory>(),
        MeterFactory = services.MeterFactory ?? provider.GetService<IMeterFactory>(),
    };
}
