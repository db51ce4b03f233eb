using System.Threading.RateLimiting;
using ConversationLedger.Server.Api;
using ConversationLedger.Server.Auth;
using ConversationLedger.Server.Operations;
using ConversationLedger.Server.State;
using ConversationLedger.Server.Turns;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using Scalar.AspNetCore;

namespace ConversationLedger.Server;

/// <summary>
/// The conversation service, composed: the ledger from the dependency-injection entry points (section <c>ConversationLedger</c>),
/// the service's own settings (section <c>Server</c>), the API, its reference page and health checks. Used by <c>ledger serve</c>
/// and by this project's own entry point.
/// </summary>
public static partial class LedgerServer
{
    /// <summary>Builds the service from command-line arguments and the usual configuration sources.</summary>
    /// <param name="args">Arguments (<c>--urls</c>, <c>--Server:Store=…</c> and so on).</param>
    /// <param name="configure">Changes to the builder before the app is built (tests use it).</param>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        // Quiet by default: one line per request is for debugging (Logging:LogLevel:Microsoft.AspNetCore=Information).
        builder.Configuration.Sources.Insert(0, new Microsoft.Extensions.Configuration.Memory.MemoryConfigurationSource
        {
            InitialData = new Dictionary<string, string?>
            {
                ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
                ["Logging:LogLevel:Npgsql"] = "Warning", // every command otherwise
            },
        });
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
        // The API authenticates with keys and tokens, not cookies: the key ring the authentication stack creates is unused.
        builder.Logging.AddFilter("Microsoft.AspNetCore.DataProtection", LogLevel.Error);
        configure?.Invoke(builder);
        var settings = builder.Configuration.GetSection(ServerOptions.SectionName).Get<ServerOptions>() ?? new ServerOptions();
        if (settings.Problems().ToArray() is [_, ..] problems)
        {
            throw new OptionsValidationException(ServerOptions.SectionName, typeof(ServerOptions), problems);
        }
        builder.Services.Configure<ServerOptions>(builder.Configuration.GetSection(ServerOptions.SectionName));
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = settings.ShutdownGrace + TimeSpan.FromSeconds(10));
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = ThreadTransfer.MaxImportBytes);
        builder.Services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.PropertyNamingPolicy = ApiJson.Options.PropertyNamingPolicy;
            o.SerializerOptions.DefaultIgnoreCondition = ApiJson.Options.DefaultIgnoreCondition;
            o.SerializerOptions.Encoder = ApiJson.Options.Encoder;
        });

        var (store, modelApi) = ConfigureLedger(builder, settings);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(sp => OpenState(settings, store, sp));
        builder.Services.AddSingleton<TurnRunner>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<TurnRunner>());
        builder.Services.AddSingleton<RetentionService>();
        if (settings.RetentionDays > 0 || settings.TenantRetentionDays.Count > 0)
        {
            builder.Services.AddHostedService(sp => sp.GetRequiredService<RetentionService>());
        }
        builder.Services.AddLedgerAuthentication(settings);
        builder.Services.AddRateLimiter(o => ConfigureRateLimits(o, settings));
        builder.Services.AddOpenApi();

        var app = builder.Build();
        LogStarting(app.Logger, store.Describe(), modelApi);
        app.Use(ProblemsForExceptionsAsync);
        var page = new Microsoft.Extensions.FileProviders.ManifestEmbeddedFileProvider(typeof(LedgerServer).Assembly, "wwwroot");
        app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = page });
        app.UseStaticFiles(new StaticFileOptions { FileProvider = page });
        app.UseRouting(); // after the page's files, so "/" is the page and not the API's not-found
        app.Use(LimitBodySize(settings.MaxRequestBytes));
        app.UseAuthentication();
        app.UseRateLimiter();
        app.UseAuthorization();
        app.MapOpenApi();
        app.MapScalarApiReference("/docs");
        app.MapGet("/health", () => Results.Ok(new { status = "ok" })).ExcludeFromDescription();
        app.MapGet("/ready", ReadyAsync).ExcludeFromDescription();
        app.MapThreadEndpoints();
        app.MapTurnEndpoints();
        app.MapTenantEndpoints();
        app.MapFallback((HttpContext http) => Problems.Result(Problems.NotFound($"no route {http.Request.Method} {http.Request.Path}"))).ExcludeFromDescription();
        return app;
    }

    // The ledger: its settings from "ConversationLedger", its store and model from the service's settings.
    private static (StoreSetting Store, string ModelApi) ConfigureLedger(WebApplicationBuilder builder, ServerOptions settings)
    {
        var store = StoreSetting.Parse(settings.Store ?? "sqlite:" + DefaultDatabase(), "Server:Store");
        var ledger = builder.Services.AddConversationLedger(builder.Configuration.GetSection("ConversationLedger"));
        var models = ModelTable(settings.ModelTable);
        ledger.UseServices(new LedgerServices { Models = models });
        _ = store.Kind switch
        {
            "postgres" => ledger.UsePostgres(store.Target),
            "redis" => ledger.UseRedis(store.Target),
            _ => ledger.UseSqlite(CreateFolder(store.Target)),
        };
        var api = settings.ModelApi ?? (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("ANTHROPIC_API_KEY")) ? "emulator" : "anthropic");
        // Section "Anthropic": MaxRetries and Timeout of the SDK (the key stays in ANTHROPIC_API_KEY, never in a file).
        var client = builder.Configuration.GetSection("Anthropic");
        if (api == "anthropic")
        {
            ledger.UseAnthropic(o => Bind(client, o));
            return (store, "Claude (ANTHROPIC_API_KEY)");
        }
        if (api.StartsWith("emulator:", StringComparison.Ordinal))
        {
            var url = api["emulator:".Length..];
            ledger.UseAnthropic(o =>
            {
                Bind(client, o);
                o.BaseUrl = url;
                o.ApiKey ??= "emulator";
            });
            return (store, "the emulator at " + url);
        }
        if (api != "emulator")
        {
            throw new OptionsValidationException("Server:ModelApi", typeof(ServerOptions), [$"Server:ModelApi must be anthropic, emulator or emulator:URL, not {api}"]);
        }
        ledger.UseEmulator(new ConversationLedger.Emulator.EmulatorOptions { Models = models });
        return (store, "the local emulator (no ANTHROPIC_API_KEY: replies are not from Claude)");
    }

    // The built-in table, with the rows of the configured file added (or replacing built-in rows of the same id).
    private static ModelCatalog ModelTable(string? path)
    {
        if (path is null)
        {
            return ModelCatalog.Default;
        }
        using var file = File.OpenRead(path);
        var extra = ModelCatalog.Load(file).Models;
        var ids = extra.Select(m => m.Id).ToHashSet(StringComparer.Ordinal);
        return new ModelCatalog(ModelCatalog.Default.Models.Where(m => !ids.Contains(m.Id)).Concat(extra));
    }

    private static void Bind(IConfiguration section, ConversationLedger.Anthropic.AnthropicModelClientOptions options)
    {
        options.MaxRetries = section.GetValue("MaxRetries", options.MaxRetries);
        options.Timeout = section.GetValue("Timeout", options.Timeout);
    }

    private static ServiceState OpenState(ServerOptions settings, StoreSetting store, IServiceProvider services)
    {
        var state = settings.State is { } configured ? StoreSetting.Parse(configured, "Server:State") : store;
        return state.Kind switch
        {
            // The store's database: one pool for both, so an instance holds as many connections as it has requests, not twice that.
            "postgres" when state == store && services.GetRequiredService<IConversationStore>() is ConversationLedger.Postgres.PostgresConversationStore ledger =>
                ServiceState.Postgres(ledger.DataSource),
            "postgres" => ServiceState.Postgres(state.Target),
            "sqlite" => ServiceState.Sqlite(CreateFolder(state.Target)),
            _ => throw new OptionsValidationException("Server:State", typeof(ServerOptions),
                ["a Redis ledger needs Server:State (sqlite:PATH or postgres:CONNECTION-STRING) for the service's own tables"]),
        };
    }

    private static void ConfigureRateLimits(RateLimiterOptions options, ServerOptions settings)
    {
        options.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(http =>
            LedgerAuthentication.TenantOf(http.User, settings.TenantClaim) is { } tenant
                ? RateLimitPartition.GetTokenBucketLimiter(tenant, _ => new TokenBucketRateLimiterOptions
                {
                    TokenLimit = settings.RequestBurst,
                    TokensPerPeriod = settings.RequestsPerSecond,
                    ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                    QueueLimit = 0,
                })
                : RateLimitPartition.GetNoLimiter(""));
        options.OnRejected = (context, _) =>
        {
            var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(1);
            var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
            var problem = Problems.RateLimited(TimeSpan.FromSeconds(seconds));
            problem.Extensions["retry_after"] = seconds;
            return new ValueTask(Problems.Write(context.HttpContext, problem));
        };
    }

    // Every error a request causes becomes problem details; only a bug is a 500, and its details stay in the log.
    private static async Task ProblemsForExceptionsAsync(HttpContext http, RequestDelegate next)
    {
        try
        {
            await next(http);
        }
        catch (Exception ex) when (!http.Response.HasStarted && !(ex is OperationCanceledException && http.RequestAborted.IsCancellationRequested))
        {
            var problem = ex switch
            {
                IdempotencyException { RunningTurnId: { } running } i => WithTurn(Problems.Conflict(i.Message), running),
                IdempotencyException i => Problems.Create(422, "idempotency-key-reused", "The idempotency key was used for another request", i.Message),
                ServiceStoppingException s => Problems.Create(503, "shutting-down", "The service is shutting down", s.Message),
                _ => Problems.From(ex),
            };
            if (problem is null)
            {
                LogUnexpected(http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(LedgerServer)), ex);
                problem = Problems.Create(500, "internal", "Internal error", "the service logged the error");
            }
            await Problems.Write(http, problem);
        }
    }

    private static Microsoft.AspNetCore.Mvc.ProblemDetails WithTurn(Microsoft.AspNetCore.Mvc.ProblemDetails problem, string turnId)
    {
        problem.Extensions["turn_id"] = turnId;
        return problem;
    }

    // Imports take up to the import limit; every other route the (smaller) request limit.
    private static Func<HttpContext, RequestDelegate, Task> LimitBodySize(long limit) => (http, next) =>
    {
        if (http.GetEndpoint()?.Metadata.GetMetadata<ThreadEndpoints.ImportSizeLimit>() is null
            && http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature)
        {
            feature.MaxRequestBodySize = limit;
        }
        return next(http);
    };

    private static async Task<IResult> ReadyAsync(Ledger ledger, ServiceState state, CancellationToken cancellationToken)
    {
        var stateReady = await state.PingAsync(cancellationToken);
        var storeReady = true;
        try
        {
            await ledger.Store.GetHeadAsync(new ThreadKey("_ready", "_ready", "_ready"), cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            storeReady = false;
        }
        var body = new { status = stateReady && storeReady ? "ready" : "unavailable", store = storeReady, state = stateReady };
        return stateReady && storeReady ? Results.Ok(body) : Results.Json(body, statusCode: 503);
    }

    private static string DefaultDatabase()
    {
        var data = Environment.GetEnvironmentVariable("XDG_DATA_HOME") is { Length: > 0 } xdg
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "share");
        return Path.Combine(data, "ledger", "ledger.db");
    }

    private static string CreateFolder(string sqlite)
    {
        if (!sqlite.Contains('=', StringComparison.Ordinal) && Path.GetDirectoryName(Path.GetFullPath(sqlite)) is { } folder)
        {
            Directory.CreateDirectory(folder);
        }
        return sqlite;
    }

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "conversation service: ledger in {Store}, replies from {ModelApi}")]
    private static partial void LogStarting(ILogger logger, string store, string modelApi);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Error, Message = "a request failed unexpectedly")]
    private static partial void LogUnexpected(ILogger logger, Exception exception);
}

/// <summary>A store setting: <c>sqlite:PATH</c>, <c>postgres:CONNECTION-STRING</c> or <c>redis:CONFIGURATION</c> (a bare path is SQLite).</summary>
public sealed record StoreSetting(string Kind, string Target)
{
    /// <summary>Reads a setting, naming <paramref name="setting"/> when it is not valid.</summary>
    public static StoreSetting Parse(string value, string setting)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(value);
        var colon = value.IndexOf(':', StringComparison.Ordinal);
        var kind = colon > 1 ? value[..colon] : "";
        return kind switch
        {
            "sqlite" or "postgres" or "redis" when value.Length > colon + 1 => new StoreSetting(kind, value[(colon + 1)..]),
            "" => new StoreSetting("sqlite", value),
            _ => throw new OptionsValidationException(setting, typeof(ServerOptions), [$"{setting} must be sqlite:PATH, postgres:CONNECTION-STRING or redis:CONFIGURATION"]),
        };
    }

    /// <summary>What it names, without secrets (a connection string's password is left out).</summary>
    public string Describe() => Kind == "sqlite" ? $"SQLite {Target}" : Kind == "postgres" ? "PostgreSQL " + Redacted(Target) : "Redis " + Redacted(Target);

    private static string Redacted(string target) => string.Join(';', target.Split(';').Where(p => !p.TrimStart().StartsWith("Password", StringComparison.OrdinalIgnoreCase)));
}
