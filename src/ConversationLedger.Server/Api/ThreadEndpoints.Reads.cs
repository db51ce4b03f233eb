using ConversationLedger.Server.State;
using ConversationLedger.Storage;

namespace ConversationLedger.Server.Api;

// What a thread holds: its messages, its entries, what its calls cost and the request its next turn would send.
internal static partial class ThreadEndpoints
{
    private static async Task<IResult> MessagesAsync(HttpContext http, Ledger ledger, ServiceState state, long? after, long? before, int? limit)
    {
        var key = await KnownAsync(http, state);
        var view = await ledger.Open(key).LoadAsync(http.RequestAborted);
        var size = CheckLimit(limit, 100);
        IEnumerable<LedgerMessage> page;
        string? next;
        if (after is { } a)
        {
            var rest = view.Messages.Where(m => m.Ordinal > a).ToArray();
            page = rest.Take(size);
            next = rest.Length > size ? rest[size - 1].Ordinal.ToString(System.Globalization.CultureInfo.InvariantCulture) : null;
        }
        else
        {
            // Newest first by default, as a chat shows it: the page is the newest messages before the cursor, in order.
            var earlier = view.Messages.Where(m => before is null || m.Ordinal < before).ToArray();
            page = earlier.Skip(Math.Max(0, earlier.Length - size));
            next = earlier.Length > size ? earlier[^size].Ordinal.ToString(System.Globalization.CultureInfo.InvariantCulture) : null;
        }
        return Results.Ok(new Page<MessageResponse>(page.Select(Representations.Message).ToArray(), next));
    }

    private static async Task<IResult> EntriesAsync(HttpContext http, Ledger ledger, ServiceState state, long? after, long? before, int? limit)
    {
        var key = await KnownAsync(http, state);
        var size = CheckLimit(limit, 100);
        IReadOnlyList<LedgerEntry> entries;
        string? next;
        if (before is { } b)
        {
            var from = Math.Max(0, b - 1 - size);
            entries = (await ledger.Store.ReadEntriesAsync(key, from, size, http.RequestAborted)).Where(e => e.Sequence < b).ToArray();
            next = from > 0 && entries.Count > 0 ? entries[0].Sequence.ToString(System.Globalization.CultureInfo.InvariantCulture) : null;
        }
        else
        {
            entries = await ledger.Store.ReadEntriesAsync(key, Math.Max(0, after ?? 0), size + 1, http.RequestAborted);
            next = entries.Count > size ? entries[size - 1].Sequence.ToString(System.Globalization.CultureInfo.InvariantCulture) : null;
            entries = entries.Take(size).ToArray();
        }
        var data = entries.Select(e => new RawJson(ApiJson.Write(w => EntryCodec.WriteEntry(w, e)))).ToArray();
        return Results.Ok(new Page<RawJson>(data, next));
    }

    private static async Task<IResult> UsageAsync(HttpContext http, Ledger ledger, ServiceState state)
    {
        var key = await KnownAsync(http, state);
        var usage = await ThreadUsage.ReadAsync(ledger.Store, key, http.RequestAborted);
        var calls = usage.Calls.Select(c => Representations.Usage(c.Entry, c.Kind == UsageCallKind.Summary ? "summary" : "turn", c.Inherited)).ToArray();
        return Results.Ok(new UsageResponse(calls, Representations.Totals(calls), null));
    }

    private static async Task<IResult> InspectAsync(HttpContext http, Ledger ledger, ServiceState state)
    {
        var (key, thread) = await KnownThreadAsync(http, state);
        var body = await ApiJson.ReadAsync<TurnRequest>(http.Request);
        var message = body.Content.ValueKind is System.Text.Json.JsonValueKind.Undefined
            ? Message.User("(the next message)")
            : Representations.UserMessage(body.Content);
        var prepared = await ledger.Open(key).PreviewAsync(message, TurnRequests.Options(thread, body), http.RequestAborted);
        return Results.Ok(Representations.Inspect(prepared, ledger.Options.WarnAtFill));
    }
}
