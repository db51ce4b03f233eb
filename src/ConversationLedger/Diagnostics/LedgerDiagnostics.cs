namespace ConversationLedger;

/// <summary>
/// The names under which a ledger reports: its <see cref="System.Diagnostics.ActivitySource"/> and
/// <see cref="System.Diagnostics.Metrics.Meter"/> (both <see cref="Name"/>; add them to OpenTelemetry with
/// <c>AddSource("ConversationLedger")</c> and <c>AddMeter("ConversationLedger")</c>), its instruments and its log event ids.
/// </summary>
/// <remarks>
/// Spans and the <c>gen_ai.*</c> instruments follow the OpenTelemetry GenAI semantic conventions as Microsoft.Extensions.AI
/// emits them: one <c>chat {model}</c> client span per turn with <c>gen_ai.operation.name</c>, <c>gen_ai.provider.name</c>,
/// request and response model, token usage and <c>gen_ai.conversation.id</c> (the thread key). Message text is never
/// logged, and goes on spans only when <see cref="LedgerOptions.EnableSensitiveTelemetryData"/> is set.
/// </remarks>
public static class LedgerDiagnostics
{
    /// <summary>The name of the ledger's activity source and meter.</summary>
    public const string Name = "ConversationLedger";

    /// <summary>Histogram of tokens per turn (<c>{token}</c>), tagged <c>gen_ai.token.type</c> = input or output.</summary>
    public const string TokenUsage = "gen_ai.client.token.usage";

    /// <summary>Histogram of a turn's duration, from preparing the request to storing the reply (<c>s</c>).</summary>
    public const string OperationDuration = "gen_ai.client.operation.duration";

    /// <summary>Histogram of the share of the context window a turn's prompt filled (0–1).</summary>
    public const string ContextFill = "conversation_ledger.context.fill_ratio";

    /// <summary>Histogram of the share of a turn's prompt tokens read from the prompt cache (0–1).</summary>
    public const string CacheReadRatio = "conversation_ledger.cache.read_ratio";

    /// <summary>Counter of history tokens the policy left out of requests (net of the summary sent instead; <c>{token}</c>).</summary>
    public const string TokensSaved = "conversation_ledger.policy.tokens_saved";

    /// <summary>Counter of turns that lost a race with another writer (<c>{conflict}</c>).</summary>
    public const string Conflicts = "conversation_ledger.conflicts";

    /// <summary>Histogram of store calls' duration (<c>s</c>), tagged <c>conversation_ledger.store.operation</c> = lease_and_read_window (a turn's start: its lease and the first window it reads), read_window or append.</summary>
    public const string StoreDuration = "conversation_ledger.store.duration";

    /// <summary>Log event id: a turn was stored (one line per turn).</summary>
    public const int TurnCommittedEventId = 1000;

    /// <summary>Log event id: older history was summarized.</summary>
    public const int SummaryWrittenEventId = 1001;

    /// <summary>Log event id: a summary could not be written; the turn went ahead with the previous one.</summary>
    public const int SummaryFailedEventId = 1002;

    /// <summary>Log event id: another writer committed to the thread first.</summary>
    public const int ConflictEventId = 1003;

    /// <summary>Log event id: a turn is sent again after a conflict.</summary>
    public const int RetryEventId = 1004;

    /// <summary>Log event id: a model call failed; nothing was stored.</summary>
    public const int TurnFailedEventId = 1005;

    /// <summary>Log event id: the usage of a billed call that is part of no committed turn could not be stored.</summary>
    public const int UsageNotRecordedEventId = 1006;
}
