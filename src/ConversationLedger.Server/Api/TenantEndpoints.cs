using System.Globalization;
using ConversationLedger.Server.Auth;
using ConversationLedger.Server.State;

namespace ConversationLedger.Server.Api;

/// <summary>The caller's tenant as a whole: its usage day by day, and erasing it.</summary>
internal static class TenantEndpoints
{
    /// <summary>Maps the routes.</summary>
    public static void MapTenantEndpoints(this IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1").RequireAuthorization(LedgerAuthentication.TenantPolicy).WithTags("tenant");
        v1.MapGet("/usage", UsageAsync).Produces<TenantUsageResponse>();
        v1.MapDelete("/tenant", EraseAsync).Produces(200);
    }

    // Every billed call of the tenant's threads (failed turns' and summaries' included), per UTC day; the last 30 days by default.
    private static async Task<IResult> UsageAsync(HttpContext http, ServiceState state, TimeProvider time, string? from, string? to)
    {
        var today = DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
        var last = to is null ? today : Day(to, "to");
        var first = from is null ? last.AddDays(-29) : Day(from, "from");
        if (first > last || last.DayNumber - first.DayNumber > 366)
        {
            throw new ArgumentException("from must be on or before to, at most 366 days apart", "from");
        }
        var days = await state.ListUsageDaysAsync(ThreadEndpoints.Tenant(http), first, last, http.RequestAborted);
        var totals = new UsageTotals(days.Sum(d => d.Calls), days.Sum(d => d.InputTokens), days.Sum(d => d.CacheReadInputTokens),
            days.Sum(d => d.CacheCreationInputTokens), days.Sum(d => d.OutputTokens), days.Sum(d => d.CostUsd));
        return Results.Ok(new TenantUsageResponse(first, last, days, totals));
    }

    private static async Task<IResult> EraseAsync(HttpContext http, Ledger ledger, ServiceState state, string? confirm)
    {
        var tenant = ThreadEndpoints.Tenant(http);
        if (confirm != tenant)
        {
            throw new ArgumentException("erasing a tenant cannot be undone: repeat the tenant's name in ?confirm=", "confirm");
        }
        var threads = await ledger.Store.DeleteTenantAsync(tenant, http.RequestAborted);
        await state.DeleteTenantAsync(tenant, http.RequestAborted);
        return Results.Ok(new { erased_threads = threads });
    }

    private static DateOnly Day(string text, string field) =>
        DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day)
            ? day
            : throw new ArgumentException($"{field} must be a date as YYYY-MM-DD", field);
}
