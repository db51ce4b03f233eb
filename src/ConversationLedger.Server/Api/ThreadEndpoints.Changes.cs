using ConversationLedger.Server.State;

namespace ConversationLedger.Server.Api;

// What changes a thread besides turns: reset, fork, pins, edits and the system prompt.
internal static partial class ThreadEndpoints
{
    private static async Task<IResult> ResetAsync(HttpContext http, Ledger ledger, ServiceState state)
    {
        var key = await KnownAsync(http, state);
        var body = await ApiJson.ReadAsync<ResetRequest>(http.Request);
        await ledger.Open(key).ResetAsync(body.Reason, http.RequestAborted);
        return await ChangedAsync(ledger, state, key, http.RequestAborted);
    }

    private static async Task<IResult> ForkAsync(HttpContext http, Ledger ledger, ServiceState state)
    {
        var (key, thread) = await KnownThreadAsync(http, state);
        var body = await ApiJson.ReadAsync<ForkRequest>(http.Request);
        var target = NewKey(key.Tenant, body.Scope ?? key.Scope, body.Id ?? NewId());
        if (!await state.CreateThreadAsync(thread with { Key = target }, http.RequestAborted))
        {
            return Problems.Result(Problems.Conflict($"thread {target.ThreadId} already exists in scope {target.Scope}"));
        }
        try
        {
            await ledger.Open(key).ForkAsync(target, body.At, http.RequestAborted);
        }
        catch
        {
            await state.DeleteThreadAsync(target, CancellationToken.None);
            throw;
        }
        await TouchAsync(ledger, state, target, http.RequestAborted);
        return Results.Created(ThreadRoute.PathOf(target), await DescribeAsync(ledger, state, target, http.RequestAborted));
    }

    private static async Task<IResult> PinAsync(HttpContext http, Ledger ledger, ServiceState state)
    {
        var key = await KnownAsync(http, state);
        var body = await ApiJson.ReadAsync<PinRequest>(http.Request);
        await ledger.Open(key).PinAsync(body.Sequence, http.RequestAborted);
        return await ChangedAsync(ledger, state, key, http.RequestAborted);
    }

    private static async Task<IResult> UnpinAsync(HttpContext http, Ledger ledger, ServiceState state, long sequence)
    {
        var key = await KnownAsync(http, state);
        await ledger.Open(key).UnpinAsync(sequence, http.RequestAborted);
        return await ChangedAsync(ledger, state, key, http.RequestAborted);
    }

    private static async Task<IResult> EditAsync(HttpContext http, Ledger ledger, ServiceState state, long sequence)
    {
        var key = await KnownAsync(http, state);
        var body = await ApiJson.ReadAsync<EditRequest>(http.Request);
        var conversation = ledger.Open(key);
        var original = (await conversation.LoadAsync(http.RequestAborted)).Messages.FirstOrDefault(m => m.Sequence == sequence)
            ?? throw new LedgerNotFoundException($"thread {key.ThreadId} has no message at entry {sequence} since its last reset");
        var replacement = Representations.UserMessage(body.Content);
        if (original.Message.Role != Role.User)
        {
            replacement = new Message(original.Message.Role, replacement.Content);
        }
        await conversation.EditAsync(sequence, replacement, http.RequestAborted);
        return await ChangedAsync(ledger, state, key, http.RequestAborted);
    }

    private static async Task<IResult> SystemAsync(HttpContext http, Ledger ledger, ServiceState state)
    {
        var key = await KnownAsync(http, state);
        var body = await ApiJson.ReadAsync<SystemPromptRequest>(http.Request);
        await ledger.Open(key).SetSystemPromptAsync(body.Text ?? throw new ArgumentException("text is required (\"\" clears the prompt)", "text"), http.RequestAborted);
        return await ChangedAsync(ledger, state, key, http.RequestAborted);
    }
}
