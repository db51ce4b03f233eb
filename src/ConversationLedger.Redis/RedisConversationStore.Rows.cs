using System.Globalization;
using System.Text.Json;
using ConversationLedger.Storage;
using StackExchange.Redis;

namespace ConversationLedger.Redis;

// Rows and heads as Redis holds them: everything read back is parsed here.
public sealed partial class RedisConversationStore
{
    // Row = the entry's columns as one small JSON object; the payload is a JSON string, so it round-trips byte for byte.
    private static string EncodeRow(LedgerEntry entry) => JsonSerializer.Serialize(new Row(
        EntryCodec.KindName(entry.Kind), EntryCodec.EncodePayload(entry), EntryCodec.TargetOf(entry), entry.TurnId,
        entry.RecordedAt.UtcTicks, entry.Tokens, entry.RunningTokens, entry.RunningMessages), RowContext.Default.Row);

    // Everything read back from Redis is parsed here: data this store did not write (tampered, truncated) is a
    // LedgerFormatException naming the key and field, as SQLite and PostgreSQL report a malformed row.
    private static LedgerEntry DecodeRow(RedisKey key, long sequence, RedisValue json)
    {
        try
        {
            var row = JsonSerializer.Deserialize((string?)json ?? throw new JsonException("the row is missing"), RowContext.Default.Row)
                ?? throw new JsonException("the row is null");
            return EntryCodec.Decode(row.Kind, row.Payload, sequence, new DateTimeOffset(row.At, TimeSpan.Zero), row.Turn,
                row.Tokens, row.RunningTokens, row.RunningMessages);
        }
        catch (Exception ex) when (ex is JsonException or LedgerFormatException or ArgumentOutOfRangeException)
        {
            throw new LedgerFormatException($"Redis key {key} field \"{sequence}\" is not an entry: {ex.Message}", ex);
        }
    }

    private static IEnumerable<(string Name, RedisValue Value)> Pairs(RedisResult[] flat)
    {
        for (var i = 0; i + 1 < flat.Length; i += 2)
        {
            yield return ((string)flat[i]!, (RedisValue)flat[i + 1]);
        }
    }

    // Head fields only some threads have; the window script reads them, so they are checked too.
    private static readonly string[] OptionalHeadFields = ["reset_messages", "system", "summary"];

    private ThreadHead ParseHead(ThreadKey key, IEnumerable<(string Name, RedisValue Value)> fields)
    {
        var f = fields.ToDictionary(p => p.Name, p => p.Value);
        if (f.Count == 0)
        {
            return ThreadHead.Empty(key);
        }
        var head = Keys(key).Head;
        foreach (var optional in OptionalHeadFields)
        {
            if (f.TryGetValue(optional, out var value))
            {
                Number(head, optional, value);
            }
        }
        long Field(string name) => f.TryGetValue(name, out var value)
            ? Number(head, name, value)
            : throw new LedgerFormatException($"Redis key {head} has no field \"{name}\"");
        DateTimeOffset Time(string name) => Field(name) is var ticks && ticks >= 0 && ticks <= DateTimeOffset.MaxValue.UtcTicks
            ? new DateTimeOffset(ticks, TimeSpan.Zero)
            : throw new LedgerFormatException($"Redis key {head} field \"{name}\" holds {ticks}, not a time");
        return new ThreadHead
        {
            Key = key,
            LastSequence = Field("last"),
            RunningTokens = Field("tokens"),
            RunningMessages = Field("messages"),
            ResetSequence = Field("reset"),
            CreatedAt = Time("created"),
            UpdatedAt = Time("updated"),
        };
    }

    private static long Number(RedisKey key, string? field, RedisValue value) =>
        long.TryParse((string?)value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number)
            ? number
            : throw new LedgerFormatException(
                $"Redis key {key}{(field is null ? "" : $" field \"{field}\"")} holds \"{value}\", not a whole number");

    internal sealed record Row(string Kind, string Payload, long? Target, string? Turn, long At, int Tokens, long RunningTokens, long RunningMessages);
}

// Every column is required and only target and turn may be null: a row missing one is not an entry.
[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.SnakeCaseLower,
    RespectRequiredConstructorParameters = true, RespectNullableAnnotations = true)]
[System.Text.Json.Serialization.JsonSerializable(typeof(RedisConversationStore.Row))]
internal sealed partial class RowContext : System.Text.Json.Serialization.JsonSerializerContext;
