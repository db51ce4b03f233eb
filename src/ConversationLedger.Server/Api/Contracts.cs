using System.Text.Json;

namespace ConversationLedger.Server.Api;

#pragma warning disable CA2227 // request bodies are bound by the serializer
/// <summary>POST /v1/threads.</summary>
internal sealed class CreateThreadRequest
{
    /// <summary>The scope (a ticket, a document); <c>default</c> when missing.</summary>
    public string? Scope { get; set; }

    /// <summary>The thread's id; a new random one when missing.</summary>
    public string? Id { get; set; }

    /// <summary>The system prompt.</summary>
    public string? System { get; set; }

    /// <summary>The model (the service's default when missing).</summary>
    public string? Model { get; set; }

    /// <summary>The history policy (the service's default when missing).</summary>
    public string? Policy { get; set; }

    /// <summary>String pairs to find the thread by (at most 16; keys up to 64 characters, values up to 512).</summary>
    public Dictionary<string, string>? Metadata { get; set; }

    /// <summary>Days of inactivity before retention archives or erases it.</summary>
    public int? RetentionDays { get; set; }
}

/// <summary>PATCH a thread: only the fields given change (an empty model or policy goes back to the default).</summary>
internal sealed class UpdateThreadRequest
{
    /// <summary>The model.</summary>
    public string? Model { get; set; }

    /// <summary>The history policy.</summary>
    public string? Policy { get; set; }

    /// <summary>The metadata, replaced as a whole.</summary>
    public Dictionary<string, string>? Metadata { get; set; }

    /// <summary>Days of inactivity before retention applies (0: the default).</summary>
    public int? RetentionDays { get; set; }
}

/// <summary>POST …/turns, and the body of POST …/inspect.</summary>
internal sealed class TurnRequest
{
    /// <summary>The user message: a string, or an array of content blocks as the Messages API takes them.</summary>
    public JsonElement Content { get; set; }

    /// <summary>Answer as <c>text/event-stream</c> (also chosen by <c>Accept: text/event-stream</c>).</summary>
    public bool Stream { get; set; }

    /// <summary>When another turn is in flight on the thread: wait for it (up to the service's limit) instead of a 409.</summary>
    public bool Wait { get; set; }

    /// <summary>Cancel the turn (nothing stored) when the client disconnects; by default it runs on and can be re-attached to.</summary>
    public bool CancelOnDisconnect { get; set; }

    /// <summary>The model for this turn.</summary>
    public string? Model { get; set; }

    /// <summary>max_tokens for this turn.</summary>
    public int? MaxTokens { get; set; }

    /// <summary>The history policy for this turn.</summary>
    public string? Policy { get; set; }

    /// <summary><c>adaptive</c>, <c>off</c>, or a thinking budget in tokens.</summary>
    public JsonElement? Thinking { get; set; }

    /// <summary>output_config.effort.</summary>
    public string? Effort { get; set; }

    /// <summary>Tool definitions, as the Messages API takes them.</summary>
    public JsonElement? Tools { get; set; }

    /// <summary>tool_choice, as the Messages API takes it.</summary>
    public JsonElement? ToolChoice { get; set; }
}

/// <summary>POST …/fork.</summary>
internal sealed class ForkRequest
{
    /// <summary>The entry to fork at (the newest when missing).</summary>
    public long? At { get; set; }

    /// <summary>The copy's scope (the source's when missing).</summary>
    public string? Scope { get; set; }

    /// <summary>The copy's id (a new one when missing).</summary>
    public string? Id { get; set; }
}

/// <summary>POST …/pins.</summary>
internal sealed class PinRequest
{
    /// <summary>The message's entry sequence.</summary>
    public long Sequence { get; set; }
}

/// <summary>PUT …/messages/{sequence}: the message's new content, checked as a turn's would be.</summary>
internal sealed class EditRequest
{
    /// <summary>A string or an array of content blocks.</summary>
    public JsonElement Content { get; set; }
}

/// <summary>PUT …/system.</summary>
internal sealed class SystemPromptRequest
{
    /// <summary>The new system prompt ("" clears it).</summary>
    public string? Text { get; set; }
}

/// <summary>POST …/reset.</summary>
internal sealed class ResetRequest
{
    /// <summary>Why (kept in the entry).</summary>
    public string? Reason { get; set; }
}
#pragma warning restore CA2227

/// <summary>A thread as listed and returned.</summary>
internal sealed record ThreadResponse(
    string Scope, string Id, string Path, string? Model, string? Policy, IReadOnlyDictionary<string, string> Metadata, int? RetentionDays,
    DateTimeOffset CreatedAt, DateTimeOffset ActivityAt, long Messages, long Tokens, decimal CostUsd, DateTimeOffset? ArchivedAt)
{
    /// <summary>The system prompt (on a single thread's GET).</summary>
    public string? System { get; init; }

    /// <summary>The newest entry's sequence (on a single thread's GET).</summary>
    public long? LastSequence { get; init; }
}

/// <summary>A page of items and the cursor of the next one (null on the last page).</summary>
internal sealed record Page<T>(IReadOnlyList<T> Data, string? NextCursor);

/// <summary>A message of the current conversation.</summary>
internal sealed record MessageResponse(long Sequence, long Ordinal, string Role, RawJson Content, int Tokens, bool Pinned, bool Edited);

/// <summary>
/// The usage of one model call. <see cref="Kind"/> is <c>turn</c>, <c>summary</c> or <c>uncommitted</c> (billed, but part of no
/// stored turn: <see cref="Uncommitted"/> says why); an <see cref="Inherited"/> call was copied from the thread a fork came from.
/// </summary>
internal sealed record CallUsage(
    long Sequence, string? TurnId, DateTimeOffset RecordedAt, string Kind, string Model, long InputTokens, long CacheReadInputTokens,
    long CacheCreationInputTokens, long OutputTokens, decimal CostUsd, string? RequestId, string? StopReason)
{
    /// <summary>Why a billed call is part of no stored turn (cancelled, interrupted, conflict, refused, summary failed).</summary>
    public string? Uncommitted { get; init; }

    /// <summary>Copied from the parent thread by a fork: shown, not counted in this thread's totals.</summary>
    public bool Inherited { get; init; }
}

/// <summary>Sums over a thread's own calls (inherited ones left out).</summary>
internal sealed record UsageTotals(long Calls, long InputTokens, long CacheReadInputTokens, long CacheCreationInputTokens, long OutputTokens, decimal CostUsd);

/// <summary>A thread's calls and totals.</summary>
internal sealed record UsageResponse(IReadOnlyList<CallUsage> Calls, UsageTotals Totals, string? NextCursor);

/// <summary>How full the context window was.</summary>
internal sealed record ContextResponse(long Window, double Fill, bool Warning, int MessagesSent, long EstimatedInputTokens);

/// <summary>A committed turn.</summary>
internal sealed record TurnResponse(
    string Id, string Status, string Scope, string ThreadId, long Sequence, MessageResponse User, MessageResponse Reply, string Text,
    string? StopReason, CallUsage Usage, ContextResponse Context, string? SummaryError);

/// <summary>The next request as it would be sent, and what the history policy did to the conversation.</summary>
internal sealed record InspectResponse(
    RawJson Request, IReadOnlyDictionary<string, long> Parts, long EstimatedInputTokens, long ContextWindow, long Budget, double Fill,
    IReadOnlyList<string> Breakpoints, IReadOnlyList<OmissionResponse> Omitted, long? SummaryId, decimal EstimatedCostUsd)
{
    /// <summary>The messages (by entry sequence) the running summary stands for, when one is sent.</summary>
    public SequenceRange? Summarized { get; init; }

    /// <summary>Pinned messages sent ahead of the window.</summary>
    public int PinnedMessages { get; init; }

    /// <summary>Messages of the window sent (the new message not counted).</summary>
    public int WindowMessages { get; init; }

    /// <summary>The fill at which the ledger warns (0.8 unless configured).</summary>
    public double WarnAtFill { get; init; }
}

/// <summary>A range of entry sequences.</summary>
internal sealed record SequenceRange(long FromSequence, long ThroughSequence);

/// <summary>A tenant's usage per UTC day, and its totals.</summary>
internal sealed record TenantUsageResponse(DateOnly From, DateOnly To, IReadOnlyList<State.DailyUsage> Days, UsageTotals Totals);

/// <summary>Messages the policy left out of a request.</summary>
internal sealed record OmissionResponse(long FromSequence, long ThroughSequence, long Messages, string Reason);
