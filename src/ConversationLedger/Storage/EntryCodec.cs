using System.Globalization;
using System.Text.Json;

namespace ConversationLedger.Storage;

/// <summary>
/// The one place where ledger entries become stored text and back. Stores keep the kind and the payload
/// in their own columns (plus the sequence, time, turn and token sums), so every store reads what every
/// other store wrote. Message payloads are the API's message JSON with each block verbatim.
/// </summary>
public static class EntryCodec
{
    /// <summary>The stored name of a kind (message, system_prompt, pin, summary, reset, fork, edit, usage).</summary>
    public static string KindName(EntryKind kind) => kind switch
    {
        EntryKind.Message => "message",
        EntryKind.SystemPrompt => "system_prompt",
        EntryKind.Pin => "pin",
        EntryKind.Summary => "summary",
        EntryKind.Reset => "reset",
        EntryKind.Fork => "fork",
        EntryKind.Edit => "edit",
        EntryKind.Usage => "usage",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown entry kind"),
    };

    /// <summary>The kind with a stored name.</summary>
    /// <exception cref="LedgerFormatException">The name is not a kind.</exception>
    public static EntryKind ParseKind(string name) => name switch
    {
        "message" => EntryKind.Message,
        "system_prompt" => EntryKind.SystemPrompt,
        "pin" => EntryKind.Pin,
        "summary" => EntryKind.Summary,
        "reset" => EntryKind.Reset,
        "fork" => EntryKind.Fork,
        "edit" => EntryKind.Edit,
        "usage" => EntryKind.Usage,
        _ => throw new LedgerFormatException($"unknown entry kind \"{name}\""),
    };

    /// <summary>The entry a pin or edit refers to (stores index it); null for other kinds.</summary>
    public static long? TargetOf(LedgerEntry entry) => entry switch
    {
        PinEntry pin => pin.Target,
        EditEntry edit => edit.Target,
        _ => null,
    };

    /// <summary>The entry's payload as JSON text.</summary>
    public static string EncodePayload(LedgerEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return entry is MessageEntry m ? m.Message.ToJson() : Json.Write(w => WritePayload(w, entry));
    }

    /// <summary>Rebuilds an entry from its stored columns.</summary>
    /// <exception cref="LedgerFormatException">The payload does not match its kind.</exception>
    public static LedgerEntry Decode(string kind, string payload, long sequence, DateTimeOffset recordedAt, string? turnId,
        int tokens, long runningTokens, long runningMessages)
    {
        ArgumentNullException.ThrowIfNull(payload);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(payload);
        }
        catch (JsonException ex)
        {
            throw Malformed(sequence, kind, ex);
        }
        using (document)
        {
            return DecodePayload(kind, document.RootElement, sequence) with
            {
                Sequence = sequence,
                RecordedAt = recordedAt,
                TurnId = turnId,
                Tokens = tokens,
                RunningTokens = runningTokens,
                RunningMessages = runningMessages,
            };
        }
    }

    private static LedgerEntry DecodePayload(string kind, JsonElement p, long sequence)
    {
        var entryKind = ParseKind(kind);
        try
        {
            return entryKind switch
            {
                EntryKind.Message => new MessageEntry(Message.Parse(p)),
                EntryKind.SystemPrompt => new SystemPromptEntry(Str(p, "text"), p.GetProperty("effective_turn").GetInt64())
                {
                    Previous = p.TryGetProperty("previous", out var previous) && previous.ValueKind == JsonValueKind.String ? previous.GetString() : null,
                },
                EntryKind.Pin => new PinEntry(p.GetProperty("target").GetInt64(), p.GetProperty("pinned").GetBoolean()),
                EntryKind.Summary => new SummaryEntry(Str(p, "text"), p.GetProperty("from").GetInt64(), p.GetProperty("through").GetInt64(),
                    Str(p, "model"), p.GetProperty("input_tokens").GetInt64(), p.GetProperty("output_tokens").GetInt64()),
                EntryKind.Reset => new ResetEntry(p.TryGetProperty("reason", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString() : null),
                EntryKind.Fork => new ForkEntry(new ThreadKey(Str(p, "tenant"), Str(p, "scope"), Str(p, "thread")), p.GetProperty("at").GetInt64()),
                EntryKind.Edit => new EditEntry(p.GetProperty("target").GetInt64(), Message.Parse(p.GetProperty("message")))
                {
                    ReplacementTokens = p.TryGetProperty("tokens", out var t) && t.ValueKind == JsonValueKind.Number ? t.GetInt32() : null,
                    Retracted = p.TryGetProperty("retracted", out var retracted) && retracted.ValueKind == JsonValueKind.True,
                },
                EntryKind.Usage => new UsageEntry(new UsageRecord(Str(p, "model"), TokenUsage.Parse(p.GetProperty("usage")),
                    decimal.Parse(Str(p, "cost_usd"), CultureInfo.InvariantCulture), OptStr(p, "request_id"), OptStr(p, "stop_reason"))
                {
                    Uncommitted = OptStr(p, "uncommitted"),
                }),
                _ => throw new LedgerFormatException($"unknown entry kind \"{kind}\""),
            };
        }
        // A broken message block throws LedgerFormatException itself; it is wrapped too so that every malformed
        // payload names the entry it was found in. Out-of-range values (a cost beyond decimal, a fork parent with an
        // empty part) throw OverflowException and ArgumentException: malformed too, not bugs.
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException
            or OverflowException or ArgumentException or LedgerFormatException)
        {
            throw Malformed(sequence, kind, ex);
        }
    }

    private static LedgerFormatException Malformed(long sequence, string kind, Exception ex) =>
        new($"entry {sequence} ({kind}) has a malformed payload: {ex.Message}", ex);

    /// <summary>Writes a whole entry (metadata and payload) as one JSON object, as exports carry it.</summary>
    public static void WriteEntry(Utf8JsonWriter writer, LedgerEntry entry)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(entry);
        writer.WriteStartObject();
        writer.WriteNumber("sequence", entry.Sequence);
        writer.WriteString("kind", KindName(entry.Kind));
        writer.WriteString("recorded_at", entry.RecordedAt);
        if (entry.TurnId is not null)
        {
            writer.WriteString("turn_id", entry.TurnId);
        }
        writer.WriteNumber("tokens", entry.Tokens);
        writer.WritePropertyName("payload");
        if (entry is MessageEntry m)
        {
            m.Message.WriteTo(writer);
        }
        else
        {
            WritePayload(writer, entry);
        }
        writer.WriteEndObject();
    }

    /// <summary>Reads an entry written by <see cref="WriteEntry"/> (running sums are recomputed when it is appended).</summary>
    /// <param name="element">The entry.</param>
    /// <param name="position">Where the entry stands in its list (1 for the first); errors name it, whatever sequence the entry claims.</param>
    /// <exception cref="LedgerFormatException">The element is not an entry, or its payload does not match its kind.</exception>
    public static LedgerEntry ReadEntry(JsonElement element, long position)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new LedgerFormatException($"entry {position} must be a JSON object, got {element.ValueKind}");
        }
        if (!element.TryGetProperty("kind", out var kind) || kind.ValueKind != JsonValueKind.String
            || !element.TryGetProperty("payload", out var payload))
        {
            throw new LedgerFormatException($"entry {position} needs a string \"kind\" and a \"payload\"");
        }
        // GetInt64/GetInt32 would throw FormatException for 1.5 or an overflow; an import must fail with one clear line.
        long sequence = 0;
        if (element.TryGetProperty("sequence", out var s) && s.ValueKind == JsonValueKind.Number && !s.TryGetInt64(out sequence))
        {
            throw new LedgerFormatException($"entry {position}: \"sequence\" must be a whole number, got {s.GetRawText()}");
        }
        var at = element.TryGetProperty("recorded_at", out var a) && a.ValueKind == JsonValueKind.String && a.TryGetDateTimeOffset(out var t) ? t : default;
        var turn = element.TryGetProperty("turn_id", out var tu) && tu.ValueKind == JsonValueKind.String ? tu.GetString() : null;
        var tokens = 0;
        if (element.TryGetProperty("tokens", out var tk) && tk.ValueKind == JsonValueKind.Number && !tk.TryGetInt32(out tokens))
        {
            throw new LedgerFormatException($"entry {position}: \"tokens\" must be a whole number below 2^31, got {tk.GetRawText()}");
        }
        // The payload element itself, not its text re-parsed: a message too deep is reported as such, by the message.
        return DecodePayload(kind.GetString()!, payload, position) with { Sequence = sequence, RecordedAt = at, TurnId = turn, Tokens = tokens };
    }

    private static void WritePayload(Utf8JsonWriter w, LedgerEntry entry)
    {
        w.WriteStartObject();
        switch (entry)
        {
            case SystemPromptEntry sp:
                w.WriteString("text", sp.Text);
                w.WriteNumber("effective_turn", sp.EffectiveTurn);
                if (sp.Previous is not null)
                {
                    w.WriteString("previous", sp.Previous);
                }
                break;
            case PinEntry pin:
                w.WriteNumber("target", pin.Target);
                w.WriteBoolean("pinned", pin.Pinned);
                break;
            case SummaryEntry s:
                w.WriteString("text", s.Text);
                w.WriteNumber("from", s.FromSequence);
                w.WriteNumber("through", s.ThroughSequence);
                w.WriteString("model", s.Model);
                w.WriteNumber("input_tokens", s.InputTokens);
                w.WriteNumber("output_tokens", s.OutputTokens);
                break;
            case ResetEntry r:
                if (r.Reason is not null)
                {
                    w.WriteString("reason", r.Reason);
                }
                break;
            case ForkEntry f:
                w.WriteString("tenant", f.Parent.Tenant);
                w.WriteString("scope", f.Parent.Scope);
                w.WriteString("thread", f.Parent.ThreadId);
                w.WriteNumber("at", f.AtSequence);
                break;
            case EditEntry e:
                w.WriteNumber("target", e.Target);
                w.WritePropertyName("message");
                e.Replacement.WriteTo(w);
                if (e.ReplacementTokens is { } tokens)
                {
                    w.WriteNumber("tokens", tokens);
                }
                if (e.Retracted)
                {
                    w.WriteBoolean("retracted", true);
                }
                break;
            case UsageEntry u:
                w.WriteString("model", u.Record.Model);
                w.WriteString("cost_usd", u.Record.CostUsd.ToString(CultureInfo.InvariantCulture));
                if (u.Record.RequestId is not null)
                {
                    w.WriteString("request_id", u.Record.RequestId);
                }
                if (u.Record.StopReason is not null)
                {
                    w.WriteString("stop_reason", u.Record.StopReason);
                }
                if (u.Record.Uncommitted is not null)
                {
                    w.WriteString("uncommitted", u.Record.Uncommitted);
                }
                w.WritePropertyName("usage");
                u.Record.Usage.WriteTo(w);
                break;
        }
        w.WriteEndObject();
    }

    private static string Str(JsonElement e, string name) =>
        e.GetProperty(name).GetString() ?? throw new LedgerFormatException($"\"{name}\" must be a string");

    private static string? OptStr(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
