using System.Security.Cryptography;
using ConversationLedger.Server.Auth;
using ConversationLedger.Server.State;
using ConversationLedger.Storage;
using Microsoft.Extensions.Options;

namespace ConversationLedger.Server.Api;

/// <summary>
/// Threads and what can be done to them besides turns: create, list, read (messages, entries, usage, the next request), change
/// (settings, system prompt, pins, edits, reset), fork, export, import, delete, and erasing the caller's tenant. Every read and
/// write is keyed by the caller's tenant: another tenant's thread answers exactly like a missing one.
/// </summary>
internal static partial class ThreadEndpoints
{
    /// <summary>The path every thread route starts with.</summary>
    public const string ThreadPath = "/threads/{scope}/{id}";

    /// <summary>Maps the routes.</summary>
    public static void MapThreadEndpoints(this IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1").RequireAuthorization(LedgerAuthentication.TenantPolicy).WithTags("threads");
        v1.MapPost("/threads", CreateAsync).Accepts<CreateThreadRequest>("application/json").Produces<ThreadResponse>(201);
        v1.MapGet("/threads", ListAsync).Produces<Page<ThreadResponse>>();
        v1.MapPost("/threads/import", ImportAsync).Produces<ThreadResponse>(201).WithMetadata(new ImportSizeLimit());
        v1.MapGet(ThreadPath, GetAsync).Produces<ThreadResponse>();
        v1.MapMethods(ThreadPath, ["PATCH"], UpdateAsync).Accepts<UpdateThreadRequest>("application/json").Produces<ThreadResponse>();
        v1.MapDelete(ThreadPath, DeleteAsync).Produces(204);
        v1.MapGet(ThreadPath + "/messages", MessagesAsync).Produces<Page<MessageResponse>>();
        v1.MapPut(ThreadPath + "/messages/{sequence:long}", EditAsync).Accepts<EditRequest>("application/json").Produces(204);
        v1.MapGet(ThreadPath + "/entries", EntriesAsync).Produces<Page<RawJson>>();
        v1.MapGet(ThreadPath + "/usage", UsageAsync).Produces<UsageResponse>();
        v1.MapPost(ThreadPath + "/inspect", InspectAsync).Accepts<TurnRequest>("application/json").Produces<InspectResponse>();
        v1.MapPost(ThreadPath + "/reset", ResetAsync).Accepts<ResetRequest>("application/json").Produces(204);
        v1.MapPost(ThreadPath + "/fork", ForkAsync).Accepts<ForkRequest>("application/json").Produces<ThreadResponse>(201);
        v1.MapPost(ThreadPath + "/pins", PinAsync).Accepts<PinRequest>("application/json").Produces(204);
        v1.MapDelete(ThreadPath + "/pins/{sequence:long}", UnpinAsync).Produces(204);
        v1.MapPut(ThreadPath + "/system", SystemAsync).Accepts<SystemPromptRequest>("application/json").Produces(204);
        v1.MapGet(ThreadPath + "/export", ExportAsync).Produces(200, contentType: "application/json");
    }

    /// <summary>Marks the import route: it takes bodies up to the import limit instead of the usual one.</summary>
    public sealed class ImportSizeLimit;

    private static async Task<IResult> CreateAsync(HttpContext http, Ledger ledger, ServiceState state)
    {
        var body = await ApiJson.ReadAsync<CreateThreadRequest>(http.Request);
        var key = NewKey(Tenant(http), body.Scope ?? "default", body.Id ?? NewId());
        var thread = CheckSettings(ledger, new ThreadInfo
        {
            Key = key, Model = body.Model, Policy = body.Policy, Metadata = CheckMetadata(body.Metadata), RetentionDays = CheckRetention(body.RetentionDays),
        });
        if (!await state.CreateThreadAsync(thread, http.RequestAborted))
        {
            return Problems.Result(Problems.Conflict($"thread {key.ThreadId} already exists in scope {key.Scope}"));
        }
        try
        {
            if (body.System is { Length: > 0 } system)
            {
                await ledger.Open(key).SetSystemPromptAsync(system, http.RequestAborted);
            }
        }
        catch
        {
            await state.DeleteThreadAsync(key, CancellationToken.None);
            throw;
        }
        return Results.Created(ThreadRoute.PathOf(key), await DescribeAsync(ledger, state, key, http.RequestAborted));
    }

    private static async Task<IResult> ListAsync(HttpContext http, ServiceState state, string? scope, string? q, string? cursor, int? limit, bool? archived)
    {
        var metadata = new Dictionary<string, string>();
        foreach (var (name, values) in http.Request.Query)
        {
            if (name.StartsWith("metadata.", StringComparison.Ordinal) && name.Length > "metadata.".Length)
            {
                metadata[name["metadata.".Length..]] = values.ToString();
            }
        }
        var query = new ThreadQuery
        {
            Scope = scope is null ? null : ThreadKey.CheckPart(scope, "scope"),
            IdContains = q,
            Metadata = CheckMetadata(metadata),
            IncludeArchived = archived ?? false,
        };
        var (threads, next) = await state.ListThreadsAsync(Tenant(http), query, cursor, CheckLimit(limit, 50), http.RequestAborted);
        return Results.Ok(new Page<ThreadResponse>(threads.Select(Representations.Thread).ToArray(), next));
    }

    private static async Task<IResult> GetAsync(HttpContext http, Ledger ledger, ServiceState state) =>
        Results.Ok(await DescribeAsync(ledger, state, await KnownAsync(http, state), http.RequestAborted));

    private static async Task<IResult> UpdateAsync(HttpContext http, Ledger ledger, ServiceState state)
    {
        var key = ThreadRoute.Key(http, Tenant(http));
        var body = await ApiJson.ReadAsync<UpdateThreadRequest>(http.Request);
        var thread = await state.GetThreadAsync(key, http.RequestAborted) ?? throw NotFound(key);
        thread = CheckSettings(ledger, thread with
        {
            Model = body.Model is null ? thread.Model : NullIfEmpty(body.Model),
            Policy = body.Policy is null ? thread.Policy : NullIfEmpty(body.Policy),
            Metadata = body.Metadata is null ? thread.Metadata : CheckMetadata(body.Metadata),
            RetentionDays = body.RetentionDays is null ? thread.RetentionDays : CheckRetention(body.RetentionDays is 0 ? null : body.RetentionDays),
        });
        if (!await state.UpdateThreadAsync(thread, http.RequestAborted))
        {
            throw NotFound(key);
        }
        return Results.Ok(await DescribeAsync(ledger, state, key, http.RequestAborted));
    }

    private static async Task<IResult> DeleteAsync(HttpContext http, Ledger ledger, ServiceState state)
    {
        var key = await KnownAsync(http, state);
        await ledger.Store.DeleteThreadAsync(key, http.RequestAborted);
        await state.DeleteThreadAsync(key, http.RequestAborted);
        return Results.NoContent();
    }

    internal static string Tenant(HttpContext http) =>
        LedgerAuthentication.TenantOf(http.User, http.RequestServices.GetRequiredService<IOptions<ServerOptions>>().Value.TenantClaim)
        ?? throw new InvalidOperationException("an authorized request names its tenant");

    /// <summary>The thread the route names, which the caller's tenant must have.</summary>
    internal static async Task<ThreadKey> KnownAsync(HttpContext http, ServiceState state) => (await KnownThreadAsync(http, state)).Key;

    internal static async Task<(ThreadKey Key, ThreadInfo Thread)> KnownThreadAsync(HttpContext http, ServiceState state)
    {
        var key = ThreadRoute.Key(http, Tenant(http));
        return (key, await state.GetThreadAsync(key, http.RequestAborted) ?? throw NotFound(key));
    }

    internal static LedgerNotFoundException NotFound(ThreadKey key) => new($"no thread {key.ThreadId} in scope {key.Scope}");

    private static async Task<IResult> ChangedAsync(Ledger ledger, ServiceState state, ThreadKey key, CancellationToken cancellationToken)
    {
        await TouchAsync(ledger, state, key, cancellationToken);
        return Results.NoContent();
    }

    private static async Task TouchAsync(Ledger ledger, ServiceState state, ThreadKey key, CancellationToken cancellationToken) =>
        await state.RecordActivityAsync(await ledger.Store.GetHeadAsync(key, cancellationToken), [], cancellationToken);

    private static async Task<ThreadResponse> DescribeAsync(Ledger ledger, ServiceState state, ThreadKey key, CancellationToken cancellationToken)
    {
        var thread = await state.GetThreadAsync(key, cancellationToken) ?? throw NotFound(key);
        var view = ConversationView.Project(await ledger.Store.ReadWindowAsync(key, new WindowSpec { LastMessages = 1 }, cancellationToken));
        return Representations.Thread(thread) with { System = view.SystemPrompt, LastSequence = view.Head.LastSequence };
    }

    private static ThreadInfo CheckSettings(Ledger ledger, ThreadInfo thread)
    {
        if (thread.Model is { } model && !ledger.Models.TryGet(model, out _))
        {
            throw new ArgumentException($"unknown model {model}", "model");
        }
        if (thread.Policy is { } policy)
        {
            if (!HistoryPolicies.TryParse(policy, out _, out var error))
            {
                throw new ArgumentException(error, "policy");
            }
        }
        return thread;
    }

    private static Dictionary<string, string> CheckMetadata(Dictionary<string, string>? metadata)
    {
        metadata ??= [];
        if (metadata.Count > 16)
        {
            throw new ArgumentException($"metadata holds at most 16 pairs, got {metadata.Count}", "metadata");
        }
        foreach (var (name, value) in metadata)
        {
            if (name.Length is 0 or > 64 || value.Length > 512 || !Text.IsClean(name) || !Text.IsClean(value))
            {
                throw new ArgumentException("metadata keys are 1–64 characters and values at most 512, valid Unicode without control characters", "metadata");
            }
        }
        return metadata;
    }

    private static int? CheckRetention(int? days) => days is null or (>= 1 and <= 36_500)
        ? days
        : throw new ArgumentException("retention_days must be between 1 and 36500", "retention_days");

    private static int CheckLimit(int? limit, int fallback) => limit switch
    {
        null => fallback,
        >= 1 and <= PageRequest.MaxLimit => limit.Value,
        _ => throw new ArgumentException($"limit must be between 1 and {PageRequest.MaxLimit}", "limit"),
    };

    // A key from a body or query, its errors naming the API's fields.
    private static ThreadKey NewKey(string tenant, string scope, string id)
    {
        ThreadKey.CheckPart(scope, "scope");
        ThreadKey.CheckPart(id, "id");
        return new ThreadKey(tenant, scope, id);
    }

    private static string? NullIfEmpty(string value) => value.Length == 0 ? null : value;

    private static string NewId() => "t_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));

    private static string SafeFileName(string id) => new(id.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '_').Take(100).ToArray());
}
