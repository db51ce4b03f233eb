using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ConversationLedger;

/// <summary>
/// A ledger's logs, spans and metrics in one place, so the turn path calls one method per event. Names and tags follow the
/// GenAI semantic conventions as Microsoft.Extensions.AI emits them; see <see cref="LedgerDiagnostics"/>.
/// </summary>
internal sealed partial class LedgerTelemetry
{
    private const string Provider = "anthropic";
    private const string Operation = "chat";

    // Activity sources are process-wide by design (a listener subscribes by name); meters come from the host's factory when there is one.
    private static readonly ActivitySource Source = new(LedgerDiagnostics.Name, typeof(LedgerTelemetry).Assembly.GetName().Version?.ToString());
    private static readonly Lazy<Meter> SharedMeter = new(() => new Meter(LedgerDiagnostics.Name, typeof(LedgerTelemetry).Assembly.GetName().Version?.ToString()));

    private readonly ILogger _logger;
    private readonly bool _sensitive;
    private readonly Histogram<long> _tokens;
    private readonly Histogram<double> _duration;
    private readonly Histogram<double> _fill;
    private readonly Histogram<double> _cacheRead;
    private readonly Counter<long> _saved;
    private readonly Counter<long> _conflicts;
    private readonly Histogram<double> _store;

    public LedgerTelemetry(ILoggerFactory? loggerFactory, IMeterFactory? meterFactory, bool sensitive)
    {
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("ConversationLedger.Ledger");
        _sensitive = sensitive;
        var meter = meterFactory?.Create(LedgerDiagnostics.Name) ?? SharedMeter.Value;
        // Bucket boundaries as the conventions advise (and Microsoft.Extensions.AI uses).
        _tokens = meter.CreateHistogram(LedgerDiagnostics.TokenUsage, "{token}", "Measures number of input and output tokens used",
            advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864] });
        _duration = meter.CreateHistogram(LedgerDiagnostics.OperationDuration, "s", "Measures the duration of a GenAI operation",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92] });
        _fill = meter.CreateHistogram<double>(LedgerDiagnostics.ContextFill, "1", "Share of the context window a turn's prompt filled");
        _cacheRead = meter.CreateHistogram<double>(LedgerDiagnostics.CacheReadRatio, "1", "Share of a turn's prompt tokens read from the prompt cache");
        _saved = meter.CreateCounter<long>(LedgerDiagnostics.TokensSaved, "{token}", "History tokens the policy left out of requests, net of the summary");
        _conflicts = meter.CreateCounter<long>(LedgerDiagnostics.Conflicts, "{conflict}", "Turns that lost a race with another writer");
        _store = meter.CreateHistogram<double>(LedgerDiagnostics.StoreDuration, "s", "Duration of store calls");
    }

    /// <summary>Starts a turn's client span (null when nobody listens); <paramref name="startTime"/> for a turn whose call was made elsewhere.</summary>
    public Activity? StartTurn(ThreadKey key, string model, DateTimeOffset startTime = default)
    {
        var activity = Source.StartActivity($"{Operation} {model}", ActivityKind.Client, parentContext: default, startTime: startTime);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("gen_ai.operation.name", Operation)
                .SetTag("gen_ai.provider.name", Provider)
                .SetTag("gen_ai.request.model", model)
                .SetTag("gen_ai.conversation.id", key.ToString());
        }
        return activity;
    }

    public void TurnCommitted(Activity? activity, TurnResult turn, ConversationView view, TimeSpan duration)
    {
        var request = turn.Request;
        var record = turn.UsageEntry.Record;
        var usage = record.Usage;
        var input = usage.TotalInputTokens;
        var cacheRatio = input <= 0 ? 0 : (double)usage.CacheReadInputTokens / input;
        var omitted = request.Selection.Omitted.Sum(o => o.Messages);
        var sent = request.Parts.Pinned + request.Parts.Window + request.Parts.Summary;
        var saved = Math.Max(0, view.Head.RunningTokens - view.TokensBeforeReset - sent);

        var tags = new TagList
        {
            { "gen_ai.operation.name", Operation },
            { "gen_ai.provider.name", Provider },
            { "gen_ai.request.model", request.Request.Model },
            { "gen_ai.response.model", record.Model },
        };
        var inputTags = tags;
        inputTags.Add("gen_ai.token.type", "input");
        _tokens.Record(input, inputTags);
        var outputTags = tags;
        outputTags.Add("gen_ai.token.type", "output");
        _tokens.Record(usage.OutputTokens, outputTags);
        _duration.Record(duration.TotalSeconds, tags);
        _fill.Record(turn.ContextFill, tags);
        _cacheRead.Record(cacheRatio, tags);
        _saved.Add(saved, tags);

        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("gen_ai.request.max_tokens", request.Request.MaxTokens)
                .SetTag("gen_ai.response.model", record.Model)
                .SetTag("gen_ai.response.finish_reasons", record.StopReason is { } stop ? new[] { stop } : null)
                .SetTag("gen_ai.usage.input_tokens", input)
                .SetTag("gen_ai.usage.output_tokens", usage.OutputTokens)
                .SetTag("gen_ai.usage.cache_read.input_tokens", usage.CacheReadInputTokens)
                .SetTag("gen_ai.usage.cache_creation.input_tokens", usage.CacheCreationInputTokens)
                .SetTag("conversation_ledger.context.fill_ratio", turn.ContextFill)
                .SetTag("conversation_ledger.policy.omitted_messages", omitted)
                .SetTag("conversation_ledger.cost_usd", (double)record.CostUsd);
            if (_sensitive)
            {
                activity.SetTag("gen_ai.system_instructions", PartsJson(request.Request.System))
                    .SetTag("gen_ai.input.messages", MessagesJson(request.Request.Messages))
                    .SetTag("gen_ai.output.messages", MessagesJson([turn.Reply.Message]));
            }
        }

        if (_logger.IsEnabled(LogLevel.Information))
        {
            LogTurnCommitted(_logger, turn.Key.ToString(), record.Model, input, usage.OutputTokens, record.CostUsd,
                (long)duration.TotalMilliseconds, request.Selection.Omitted.Count, omitted, cacheRatio, turn.Head.LastSequence);
        }
    }

    public void TurnFailed(Activity? activity, ThreadKey key, string model, Exception exception, TimeSpan duration)
    {
        activity?.SetStatus(ActivityStatusCode.Error, exception.Message).SetTag("error.type", exception.GetType().FullName);
        // As the conventions have it: a failed operation's duration, tagged with its error type.
        _duration.Record(duration.TotalSeconds, new TagList
        {
            { "gen_ai.operation.name", Operation },
            { "gen_ai.provider.name", Provider },
            { "gen_ai.request.model", model },
            { "error.type", exception.GetType().FullName },
        });
        if (exception is not ConcurrencyConflictException)
        {
            LogTurnFailed(_logger, key.ToString(), model, exception.GetType().Name);
        }
    }

    public void SummaryWritten(ThreadKey key, string model, long from, long through, TokenUsage usage) =>
        LogSummaryWritten(_logger, key.ToString(), model, from, through, usage.TotalInputTokens, usage.OutputTokens);

    public void SummaryFailed(ThreadKey key, Exception exception) =>
        LogSummaryFailed(_logger, key.ToString(), exception.GetType().Name);

    public void UsageNotRecorded(ThreadKey key, Exception exception) =>
        LogUsageNotRecorded(_logger, key.ToString(), exception.GetType().Name);

    public void Conflict(ConcurrencyConflictException conflict)
    {
        _conflicts.Add(1);
        LogConflict(_logger, conflict.Key.ToString(), conflict.ExpectedSequence, conflict.ActualSequence);
    }

    public void Retry(ThreadKey key, int attempt) => LogRetry(_logger, key.ToString(), attempt);

    /// <summary>Times a store call.</summary>
    public async Task<T> StoreAsync<T>(string operation, Func<Task<T>> call)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            return await call();
        }
        finally
        {
            _store.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, new KeyValuePair<string, object?>("conversation_ledger.store.operation", operation));
        }
    }

    // The conventions' message shape: role and parts; text parts carry content, other blocks only their type.
    private static string MessagesJson(IEnumerable<Message> messages) => Json.Write(w =>
    {
        w.WriteStartArray();
        foreach (var message in messages)
        {
            w.WriteStartObject();
            w.WriteString("role", message.Role.ToString().ToLowerInvariant());
            w.WritePropertyName("parts");
            WriteParts(w, message.Content);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    });

    private static string PartsJson(IEnumerable<ContentBlock> blocks) => Json.Write(w => WriteParts(w, blocks));

    private static void WriteParts(Utf8JsonWriter w, IEnumerable<ContentBlock> blocks)
    {
        w.WriteStartArray();
        foreach (var block in blocks)
        {
            w.WriteStartObject();
            w.WriteString("type", block.Type);
            if (block.Type == "text")
            {
                w.WriteString("content", block.Text);
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    [LoggerMessage(LedgerDiagnostics.TurnCommittedEventId, LogLevel.Information,
        "Turn stored on {Thread}: model {Model}, {InputTokens} input / {OutputTokens} output tokens, ${CostUsd}, {DurationMs} ms, {Omissions} omissions ({OmittedMessages} messages left out), cache hit ratio {CacheHitRatio:F2}, head {Sequence}")]
    private static partial void LogTurnCommitted(ILogger logger, string thread, string model, long inputTokens, long outputTokens, decimal costUsd,
        long durationMs, int omissions, long omittedMessages, double cacheHitRatio, long sequence);

    [LoggerMessage(LedgerDiagnostics.TurnFailedEventId, LogLevel.Warning, "Turn on {Thread} with model {Model} failed ({ErrorType}); nothing was stored")]
    private static partial void LogTurnFailed(ILogger logger, string thread, string model, string errorType);

    [LoggerMessage(LedgerDiagnostics.SummaryWrittenEventId, LogLevel.Information,
        "Summary stored on {Thread}: entries {FromSequence}–{ThroughSequence} by {Model}, {InputTokens} input / {OutputTokens} output tokens")]
    private static partial void LogSummaryWritten(ILogger logger, string thread, string model, long fromSequence, long throughSequence, long inputTokens, long outputTokens);

    [LoggerMessage(LedgerDiagnostics.UsageNotRecordedEventId, LogLevel.Warning, "The usage of a billed call on {Thread} that is part of no committed turn could not be recorded ({ErrorType})")]
    private static partial void LogUsageNotRecorded(ILogger logger, string thread, string errorType);

    [LoggerMessage(LedgerDiagnostics.SummaryFailedEventId, LogLevel.Warning, "Summary on {Thread} failed ({ErrorType}); the turn goes ahead with the previous summary")]
    private static partial void LogSummaryFailed(ILogger logger, string thread, string errorType);

    [LoggerMessage(LedgerDiagnostics.ConflictEventId, LogLevel.Warning,
        "Conflict on {Thread}: expected entry {ExpectedSequence}, found {ActualSequence}; nothing was stored")]
    private static partial void LogConflict(ILogger logger, string thread, long expectedSequence, long actualSequence);

    [LoggerMessage(LedgerDiagnostics.RetryEventId, LogLevel.Information, "Sending the turn on {Thread} again after a conflict (attempt {Attempt})")]
    private static partial void LogRetry(ILogger logger, string thread, int attempt);
}
