using ConversationLedger.Server.State;

namespace ConversationLedger.Server.Api;

/// <summary>How the ledger's types look on the wire: one place, so JSON replies, streams and replays agree.</summary>
internal static class Representations
{
    /// <summary>A thread.</summary>
    public static ThreadResponse Thread(ThreadInfo thread)
    {
        ArgumentNullException.ThrowIfNull(thread);
        return new ThreadResponse(thread.Key.Scope, thread.Key.ThreadId, ThreadRoute.PathOf(thread.Key), thread.Model, thread.Policy, thread.Metadata,
            thread.RetentionDays, thread.CreatedAt, thread.ActivityAt, thread.Messages, thread.Tokens, thread.CostUsd, thread.ArchivedAt);
    }

    /// <summary>A message of the current conversation.</summary>
    public static MessageResponse Message(LedgerMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return new MessageResponse(message.Sequence, message.Ordinal, RoleName(message.Message.Role), Content(message.Message), message.Tokens, message.Pinned, message.Edited);
    }

    /// <summary>A stored message entry.</summary>
    public static MessageResponse Message(MessageEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return new MessageResponse(entry.Sequence, entry.RunningMessages, RoleName(entry.Message.Role), Content(entry.Message), entry.Tokens, false, false);
    }

    /// <summary>One model call's usage; <paramref name="kind"/> is used unless the call was part of no stored turn.</summary>
    public static CallUsage Usage(UsageEntry entry, string kind, bool inherited = false)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var (model, usage, cost, requestId, stopReason) = entry.Record;
        return new CallUsage(entry.Sequence, entry.TurnId, entry.RecordedAt, entry.Record.Uncommitted is null ? kind : "uncommitted", model,
            usage.InputTokens, usage.CacheReadInputTokens, usage.CacheCreationInputTokens, usage.OutputTokens, cost, requestId, stopReason)
        {
            Uncommitted = entry.Record.Uncommitted,
            Inherited = inherited,
        };
    }

    /// <summary>Sums of calls.</summary>
    public static UsageTotals Totals(IEnumerable<CallUsage> calls)
    {
        ArgumentNullException.ThrowIfNull(calls);
        long n = 0, input = 0, read = 0, write = 0, output = 0;
        decimal cost = 0;
        foreach (var c in calls.Where(c => !c.Inherited))
        {
            n++;
            input += c.InputTokens;
            read += c.CacheReadInputTokens;
            write += c.CacheCreationInputTokens;
            output += c.OutputTokens;
            cost += c.CostUsd;
        }
        return new UsageTotals(n, input, read, write, output, cost);
    }

    /// <summary>A committed turn.</summary>
    public static TurnResponse Turn(TurnResult turn)
    {
        ArgumentNullException.ThrowIfNull(turn);
        var request = turn.Request;
        return new TurnResponse(turn.TurnId, "committed", turn.Key.Scope, turn.Key.ThreadId, turn.Head.LastSequence,
            Message(turn.User), Message(turn.Reply), turn.ReplyText, turn.StopReason, Usage(turn.UsageEntry, "turn"),
            new ContextResponse(turn.ContextWindow, Math.Round(turn.ContextFill, 4), turn.ContextWarning, turn.MessagesSent, request.EstimatedInputTokens),
            turn.SummaryError);
    }

    /// <summary>The request the next turn would send.</summary>
    public static InspectResponse Inspect(PreparedRequest prepared, double warnAtFill)
    {
        ArgumentNullException.ThrowIfNull(prepared);
        var p = prepared.Parts;
        var parts = new Dictionary<string, long>
        {
            ["tools"] = p.Tools, ["system"] = p.System, ["summary"] = p.Summary, ["pinned"] = p.Pinned, ["window"] = p.Window,
            ["new_message"] = p.NewMessage, ["total"] = p.Total,
        };
        return new InspectResponse(new RawJson(prepared.ToJson()), parts, prepared.EstimatedInputTokens, prepared.ContextWindow, prepared.Budget,
            Math.Round(prepared.Fill, 4), prepared.Breakpoints,
            prepared.Selection.Omitted.Select(o => new OmissionResponse(o.FromSequence, o.ThroughSequence, o.Messages, o.Reason)).ToArray(),
            prepared.Selection.Summary?.Sequence, prepared.UncachedInputCostUsd)
        {
            Summarized = prepared.Selection.Summary is { } summary ? new SequenceRange(summary.FromSequence, summary.ThroughSequence) : null,
            PinnedMessages = prepared.Selection.Pinned.Count,
            WindowMessages = prepared.Selection.Window.Count,
            WarnAtFill = warnAtFill,
        };
    }

    /// <summary>The user message a request carries: a string, or an array of content blocks.</summary>
    /// <exception cref="ArgumentException">Neither, or blocks that are not valid.</exception>
    public static Message UserMessage(System.Text.Json.JsonElement content, string field = "content")
    {
        try
        {
            return content.ValueKind switch
            {
                System.Text.Json.JsonValueKind.String when content.GetString() is { Length: > 0 } text => ConversationLedger.Message.User(text),
                System.Text.Json.JsonValueKind.Array when content.GetArrayLength() > 0 => ConversationLedger.Message.Parse(
                    ApiJson.Write(w =>
                    {
                        w.WriteStartObject();
                        w.WriteString("role", "user");
                        w.WritePropertyName("content");
                        content.WriteTo(w);
                        w.WriteEndObject();
                    })),
                System.Text.Json.JsonValueKind.Undefined or System.Text.Json.JsonValueKind.Null => throw new ArgumentException("content is required: a string or an array of content blocks", field),
                _ => throw new ArgumentException("content must be a non-empty string or a non-empty array of content blocks", field),
            };
        }
        catch (LedgerFormatException ex)
        {
            throw new ArgumentException(ex.Message, field, ex);
        }
    }

    private static RawJson Content(ConversationLedger.Message message) =>
        new(ApiJson.Write(w =>
        {
            w.WriteStartArray();
            foreach (var block in message.Content)
            {
                block.WriteTo(w);
            }
            w.WriteEndArray();
        }));

    private static string RoleName(Role role) => role.ToString();
}
