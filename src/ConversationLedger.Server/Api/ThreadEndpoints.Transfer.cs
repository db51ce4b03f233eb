using ConversationLedger.Server.State;

namespace ConversationLedger.Server.Api;

// A thread out as one JSON document and back in.
internal static partial class ThreadEndpoints
{
    private static async Task ExportAsync(HttpContext http, Ledger ledger, ServiceState state)
    {
        var key = await KnownAsync(http, state);
        http.Response.ContentType = "application/json";
        http.Response.Headers.ContentDisposition = $"attachment; filename=\"{SafeFileName(key.ThreadId)}.json\"";
        await ThreadTransfer.ExportAsync(ledger.Store, key, http.Response.Body, http.RequestAborted);
    }

    private static async Task<IResult> ImportAsync(HttpContext http, Ledger ledger, ServiceState state, string? scope, string? id)
    {
        var key = NewKey(Tenant(http), scope ?? "default", id ?? NewId());
        var document = new MemoryStream();
        await http.Request.Body.CopyToAsync(document, http.RequestAborted);
        // Parsed and checked before anything is recorded: a bad file changes nothing.
        var entries = ThreadTransfer.Parse(document.GetBuffer().AsMemory(0, (int)document.Length), ledger.TokenCounter);
        if (!await state.CreateThreadAsync(new ThreadInfo { Key = key }, http.RequestAborted))
        {
            return Problems.Result(Problems.Conflict($"thread {key.ThreadId} already exists in scope {key.Scope}"));
        }
        try
        {
            await ledger.Store.AppendAsync(key, 0, entries, http.RequestAborted);
        }
        catch
        {
            await state.DeleteThreadAsync(key, CancellationToken.None);
            throw;
        }
        await TouchAsync(ledger, state, key, http.RequestAborted);
        return Results.Created(ThreadRoute.PathOf(key), await DescribeAsync(ledger, state, key, http.RequestAborted));
    }
}
