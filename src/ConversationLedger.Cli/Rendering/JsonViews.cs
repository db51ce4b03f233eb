using System.Text.Json;
using ConversationLedger.Storage;
using Spectre.Console;

namespace ConversationLedger.Cli.Rendering;

/// <summary>
/// What <c>--json</c> prints: one JSON document per command, with snake_case names as the Messages API has them. The
/// shapes are documented in docs/cli.md and only grow: a field is never renamed or removed, new ones may appear.
/// </summary>
public static class JsonViews
{
    /// <summary><c>threads --json</c>: <c>{"threads": [{tenant, scope, id, entries, messages, tokens, reset_at, created_at, updated_at}], "more"}</c>.</summary>
    public static void WriteThreads(IAnsiConsole console, IReadOnlyList<ThreadHead> threads, bool more)
    {
        ArgumentNullException.ThrowIfNull(threads);
        Output.WriteJson(console, json =>
        {
            json.WriteStartObject();
            json.WriteStartArray("threads");
            foreach (var head in threads)
            {
                json.WriteStartObject();
                WriteKey(json, head.Key);
                json.WriteNumber("entries", head.LastSequence);
                json.WriteNumber("messages", head.RunningMessages);
                json.WriteNumber("tokens", head.RunningTokens);
                json.WriteNumber("reset_at", head.ResetSequence);
                json.WriteString("created_at", head.CreatedAt);
                json.WriteString("updated_at", head.UpdatedAt);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteBoolean("more", more);
            json.WriteEndObject();
        });
    }

    /// <summary>
    /// <c>show --json</c>: <c>{"thread", "entries", "reset_at", "system", "summary", "message_count", "messages": [{sequence,
    /// pinned, edited, tokens, message}]}</c>, the messages the newest <paramref name="last"/> when given.
    /// </summary>
    public static void WriteConversation(IAnsiConsole console, ConversationView view, int? last)
    {
        ArgumentNullException.ThrowIfNull(view);
        Output.WriteJson(console, json =>
        {
            json.WriteStartObject();
            json.WriteStartObject("thread");
            WriteKey(json, view.Head.Key);
            json.WriteEndObject();
            json.WriteNumber("entries", view.Head.LastSequence);
            json.WriteNumber("reset_at", view.Head.ResetSequence);
            if (view.SystemPrompt is { } system)
            {
                json.WriteString("system", system);
            }
            else
            {
                json.WriteNull("system");
            }
            if (view.Summary is { } summary)
            {
                json.WriteStartObject("summary");
                json.WriteNumber("from", summary.FromSequence);
                json.WriteNumber("through", summary.ThroughSequence);
                json.WriteString("text", summary.Text);
                json.WriteEndObject();
            }
            else
            {
                json.WriteNull("summary");
            }
            json.WriteNumber("message_count", view.Messages.Count);
            json.WriteStartArray("messages");
            foreach (var message in last is { } n ? view.Messages.TakeLast(n) : view.Messages)
            {
                json.WriteStartObject();
                json.WriteNumber("sequence", message.Sequence);
                json.WriteBoolean("pinned", message.Pinned);
                json.WriteBoolean("edited", message.Edited);
                json.WriteNumber("tokens", message.Tokens);
                json.WritePropertyName("message");
                message.Message.WriteTo(json);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        });
    }

    /// <summary><c>show --all --json</c>: <c>{"thread", "entries": [...]}</c>, each entry as an export carries it.</summary>
    public static void WriteEntries(IAnsiConsole console, ThreadKey key, IEnumerable<LedgerEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(entries);
        Output.WriteJson(console, json =>
        {
            json.WriteStartObject();
            json.WriteStartObject("thread");
            WriteKey(json, key);
            json.WriteEndObject();
            json.WriteStartArray("entries");
            foreach (var entry in entries)
            {
                EntryCodec.WriteEntry(json, entry);
            }
            json.WriteEndArray();
            json.WriteEndObject();
        });
    }

    /// <summary>
    /// <c>usage --json</c>: <c>{"thread", "calls": [{sequence, recorded_at, kind, turn, uncommitted, inherited, model,
    /// request_id, stop_reason, input_tokens, cache_read_input_tokens, cache_creation_input_tokens, output_tokens,
    /// cost_usd, context_fill}], "total", "inherited"}</c>; <c>total</c> is this thread's own calls (inherited ones left out).
    /// </summary>
    public static void WriteUsage(IAnsiConsole console, ThreadUsage report, ModelCatalog models)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(models);
        Output.WriteJson(console, json =>
        {
            json.WriteStartObject();
            json.WriteStartObject("thread");
            WriteKey(json, report.Key);
            json.WriteEndObject();
            json.WriteStartArray("calls");
            foreach (var call in report.Calls)
            {
                var record = call.Record;
                json.WriteStartObject();
                json.WriteNumber("sequence", call.Entry.Sequence);
                json.WriteString("recorded_at", call.Entry.RecordedAt);
                json.WriteString("kind", UsageViews.KindName(call.Kind));
                WriteNumberOrNull(json, "turn", call.TurnNumber);
                WriteStringOrNull(json, "uncommitted", record.Uncommitted);
                json.WriteBoolean("inherited", call.Inherited);
                json.WriteString("model", record.Model);
                WriteStringOrNull(json, "request_id", record.RequestId);
                WriteStringOrNull(json, "stop_reason", record.StopReason);
                json.WriteNumber("input_tokens", record.Usage.InputTokens);
                json.WriteNumber("cache_read_input_tokens", record.Usage.CacheReadInputTokens);
                json.WriteNumber("cache_creation_input_tokens", record.Usage.CacheCreationInputTokens);
                json.WriteNumber("output_tokens", record.Usage.OutputTokens);
                json.WriteNumber("cost_usd", record.CostUsd);
                if (call.ContextFill(models) is { } fill)
                {
                    json.WriteNumber("context_fill", Math.Round(fill, 6));
                }
                else
                {
                    json.WriteNull("context_fill");
                }
                json.WriteEndObject();
            }
            json.WriteEndArray();
            WriteTotals(json, "total", report.OwnTotals);
            WriteTotals(json, "inherited", report.InheritedTotals);
            json.WriteEndObject();
        });
    }

    /// <summary>
    /// <c>usage --all --json</c> and <c>usage --by day --json</c>: <c>{"scope", "by": "thread"|"day", "rows": [{"thread"
    /// (an id) or "day" (yyyy-MM-dd), calls, input_tokens, cache_read_input_tokens, cache_creation_input_tokens,
    /// output_tokens, cost_usd}], "total"}</c>; each call counted once (a fork's inherited calls are left out).
    /// </summary>
    public static void WriteUsageSummary(IAnsiConsole console, string scope, IReadOnlyList<ThreadUsage> reports, bool byDay)
    {
        ArgumentNullException.ThrowIfNull(reports);
        Output.WriteJson(console, json =>
        {
            json.WriteStartObject();
            json.WriteString("scope", scope);
            json.WriteString("by", byDay ? "day" : "thread");
            json.WriteStartArray("rows");
            foreach (var (label, totals) in UsageViews.Groups(reports, byDay))
            {
                json.WriteStartObject();
                json.WriteString(byDay ? "day" : "thread", label);
                WriteTotalsFields(json, totals);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            WriteTotals(json, "total", UsageTotals.Of(reports.SelectMany(r => r.Own).Select(c => c.Record)));
            json.WriteEndObject();
        });
    }

    /// <summary>
    /// <c>search --json</c>: <c>{"query", "matches": [{"thread", "sequence", "kind", "role", "recorded_at", "snippet"}],
    /// "more"}</c>.
    /// </summary>
    public static void WriteSearch(IAnsiConsole console, string query, IReadOnlyList<SearchMatch> matches, bool more)
    {
        ArgumentNullException.ThrowIfNull(matches);
        Output.WriteJson(console, json =>
        {
            json.WriteStartObject();
            json.WriteString("query", query);
            json.WriteStartArray("matches");
            foreach (var match in matches)
            {
                json.WriteStartObject();
                json.WriteStartObject("thread");
                WriteKey(json, match.Key);
                json.WriteEndObject();
                json.WriteNumber("sequence", match.Entry.Sequence);
                json.WriteString("kind", EntryCodec.KindName(match.Entry.Kind));
                WriteStringOrNull(json, "role", match.Role);
                json.WriteString("recorded_at", match.Entry.RecordedAt);
                json.WriteString("snippet", match.Snippet);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteBoolean("more", more);
            json.WriteEndObject();
        });
    }

    /// <summary>
    /// <c>inspect --json</c>: <c>{"model", "policy", "parts": {tools, system, summary, pinned, window, next_message, total},
    /// "summary", "pinned", "window", "omitted", "cache_breakpoints", "estimated_input_tokens", "context_window", "fill",
    /// "budget", "cost_estimate": {input_max_usd, output_max_usd}, "request"}</c>; <c>request</c> is the body as it would be sent.
    /// </summary>
    public static void WriteInspect(IAnsiConsole console, PreparedRequest prepared, Ledger ledger, IHistoryPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(prepared);
        ArgumentNullException.ThrowIfNull(ledger);
        ArgumentNullException.ThrowIfNull(policy);
        var request = prepared.Request;
        var parts = prepared.Parts;
        var selection = prepared.Selection;
        Output.WriteJson(console, json =>
        {
            json.WriteStartObject();
            json.WriteString("model", request.Model);
            json.WriteString("policy", policy.ToString());
            json.WriteStartObject("parts");
            json.WriteNumber("tools", parts.Tools);
            json.WriteNumber("system", parts.System);
            json.WriteNumber("summary", parts.Summary);
            json.WriteNumber("pinned", parts.Pinned);
            json.WriteNumber("window", parts.Window);
            json.WriteNumber("next_message", parts.NewMessage);
            json.WriteNumber("total", parts.Total);
            json.WriteEndObject();
            if (selection.Summary is { } summary)
            {
                json.WriteStartObject("summary");
                json.WriteNumber("from", summary.FromSequence);
                json.WriteNumber("through", summary.ThroughSequence);
                json.WriteEndObject();
            }
            else
            {
                json.WriteNull("summary");
            }
            void Messages(string name, IEnumerable<LedgerMessage> messages)
            {
                json.WriteStartArray(name);
                foreach (var message in messages)
                {
                    json.WriteStartObject();
                    json.WriteNumber("sequence", message.Sequence);
                    json.WriteString("role", message.Message.Role == Role.User ? "user" : "assistant");
                    json.WriteNumber("tokens", message.Tokens);
                    json.WriteEndObject();
                }
                json.WriteEndArray();
            }
            Messages("pinned", selection.Pinned);
            Messages("window", selection.Window);
            json.WriteStartArray("omitted");
            foreach (var omission in selection.Omitted)
            {
                json.WriteStartObject();
                json.WriteNumber("from", omission.FromSequence);
                json.WriteNumber("through", omission.ThroughSequence);
                json.WriteNumber("messages", omission.Messages);
                json.WriteString("reason", omission.Reason);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteStartArray("cache_breakpoints");
            foreach (var breakpoint in prepared.Breakpoints)
            {
                json.WriteStringValue(breakpoint);
            }
            json.WriteEndArray();
            json.WriteNumber("estimated_input_tokens", prepared.EstimatedInputTokens);
            json.WriteNumber("context_window", prepared.ContextWindow);
            json.WriteNumber("fill", Math.Round(prepared.Fill, 6));
            json.WriteNumber("budget", prepared.Budget);
            json.WriteStartObject("cost_estimate");
            json.WriteNumber("input_max_usd", prepared.UncachedInputCostUsd);
            json.WriteNumber("output_max_usd", ledger.Models.Cost(request.Model, new TokenUsage { OutputTokens = request.MaxTokens }));
            json.WriteEndObject();
            json.WritePropertyName("request");
            json.WriteRawValue(prepared.ToJson());
            json.WriteEndObject();
        });
    }

    /// <summary>Writes <c>"tenant"</c>, <c>"scope"</c> and <c>"id"</c> into the open object.</summary>
    public static void WriteKey(Utf8JsonWriter json, ThreadKey key)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(key);
        json.WriteString("tenant", key.Tenant);
        json.WriteString("scope", key.Scope);
        json.WriteString("id", key.ThreadId);
    }

    /// <summary>Writes sums of usage as an object named <paramref name="name"/>.</summary>
    public static void WriteTotals(Utf8JsonWriter json, string name, UsageTotals totals)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(totals);
        json.WriteStartObject(name);
        WriteTotalsFields(json, totals);
        json.WriteEndObject();
    }

    private static void WriteTotalsFields(Utf8JsonWriter json, UsageTotals totals)
    {
        json.WriteNumber("calls", totals.Calls);
        json.WriteNumber("input_tokens", totals.InputTokens);
        json.WriteNumber("cache_read_input_tokens", totals.CacheReadInputTokens);
        json.WriteNumber("cache_creation_input_tokens", totals.CacheCreationInputTokens);
        json.WriteNumber("output_tokens", totals.OutputTokens);
        json.WriteNumber("cost_usd", totals.CostUsd);
    }

    private static void WriteStringOrNull(Utf8JsonWriter json, string name, string? value)
    {
        if (value is null)
        {
            json.WriteNull(name);
        }
        else
        {
            json.WriteString(name, value);
        }
    }

    private static void WriteNumberOrNull(Utf8JsonWriter json, string name, long? value)
    {
        if (value is { } number)
        {
            json.WriteNumber(name, number);
        }
        else
        {
            json.WriteNull(name);
        }
    }
}
