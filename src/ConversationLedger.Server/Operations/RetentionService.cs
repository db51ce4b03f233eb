using ConversationLedger.Server.State;
using Microsoft.Extensions.Options;

namespace ConversationLedger.Server.Operations;

/// <summary>
/// The retention job: threads idle longer than their retention (the thread's own days, else its tenant's, else the service's)
/// are archived (a reset entry, hidden from listings until their next activity) or erased, and old turn records are pruned.
/// It logs what it did, thread by thread. Several instances may run it at once: archiving or erasing twice is harmless.
/// </summary>
internal sealed partial class RetentionService(Ledger ledger, ServiceState state, IOptions<ServerOptions> options, ILogger<RetentionService> logger, TimeProvider time)
    : BackgroundService
{
    private const int Batch = 500;

    /// <summary>One pass: applies retention and prunes turn records. Returns the number of threads archived or erased.</summary>
    public async Task<int> RunOnceAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var done = 0;
        foreach (var (tenant, days) in settings.TenantRetentionDays)
        {
            done += await ApplyAsync(await state.ListIdleAsync(tenant, [], days, Batch, cancellationToken), settings, cancellationToken);
        }
        done += await ApplyAsync(await state.ListIdleAsync(null, settings.TenantRetentionDays.Keys, settings.RetentionDays, Batch, cancellationToken), settings, cancellationToken);
        var pruned = await state.PruneTurnsAsync(time.GetUtcNow() - settings.TurnRecordRetention, cancellationToken);
        if (done > 0 || pruned > 0)
        {
            LogPass(logger, done, pruned);
        }
        return done;
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.RetentionInterval, time);
        do
        {
            try
            {
                await RunOnceAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogFailed(logger, ex);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    private async Task<int> ApplyAsync(List<ThreadInfo> idle, ServerOptions settings, CancellationToken cancellationToken)
    {
        foreach (var thread in idle)
        {
            var key = thread.Key;
            if (settings.RetentionAction == "erase")
            {
                await ledger.Store.DeleteThreadAsync(key, cancellationToken);
                await state.DeleteThreadAsync(key, cancellationToken);
                LogErased(logger, key.Tenant, key.Scope, key.ThreadId, thread.ActivityAt);
            }
            else
            {
                var head = await ledger.Store.GetHeadAsync(key, cancellationToken);
                if (head.Exists && head.ResetSequence != head.LastSequence)
                {
                    await ledger.Open(key).ResetAsync($"archived by retention: idle since {thread.ActivityAt:u}", cancellationToken);
                }
                await state.ArchiveThreadAsync(key, cancellationToken);
                LogArchived(logger, key.Tenant, key.Scope, key.ThreadId, thread.ActivityAt);
            }
        }
        return idle.Count;
    }

    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "retention archived thread {ThreadId} in scope {Scope} of tenant {Tenant}, idle since {IdleSince:u}")]
    private static partial void LogArchived(ILogger logger, string tenant, string scope, string threadId, DateTimeOffset idleSince);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Information, Message = "retention erased thread {ThreadId} in scope {Scope} of tenant {Tenant}, idle since {IdleSince:u}")]
    private static partial void LogErased(ILogger logger, string tenant, string scope, string threadId, DateTimeOffset idleSince);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Information, Message = "retention pass: {Threads} thread(s) archived or erased, {Turns} old turn record(s) pruned")]
    private static partial void LogPass(ILogger logger, int threads, int turns);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Warning, Message = "a retention pass failed; the next one tries again")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
