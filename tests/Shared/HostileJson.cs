using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace ConversationLedger.Testing;

/// <summary>
/// Damage for property-style fuzz tests, shared by the import and emulator fuzzes: takes a valid JSON document and breaks it
/// one way at random — truncated, random bytes, deep nesting, huge strings, invalid UTF-8, lone surrogates, raw control
/// characters, wrong types, removed or reordered parts, separators and wildcards in strings, bogus numbers, duplicate keys.
/// Seeded (LEDGER_FUZZ_SEED overrides the default), so a failing case is reproduced by its seed and index.
/// </summary>
internal static partial class HostileJson
{
    public const int DefaultSeed = 20261202;

    /// <summary>The seed of this run: LEDGER_FUZZ_SEED, else <see cref="DefaultSeed"/>.</summary>
    public static int Seed { get; } =
        Environment.GetEnvironmentVariable("LEDGER_FUZZ_SEED") is { Length: > 0 } s ? int.Parse(s, CultureInfo.InvariantCulture) : DefaultSeed;

    /// <summary>Whether LEDGER_LONG_TESTS=1 asks for the long variants.</summary>
    public static bool LongTests { get; } = Environment.GetEnvironmentVariable("LEDGER_LONG_TESTS") == "1";

    /// <summary>Strings that mean something to a path, a key pattern, a shell or a database.</summary>
    public static IReadOnlyList<string> HostileStrings { get; } =
        ["a/b", "a:b", "*", "?", "%", "_", "[", "]", "..", "\\", "\u0000", "\t", "\n", "{}", "$(id)", "'; drop table x; --", "é", "e\u0301", "😀", ""];

    /// <summary>The kinds of damage <see cref="Damage"/> picks from.</summary>
    public static IReadOnlyList<string> Kinds { get; } =
        ["truncated", "random bytes", "deep nesting", "huge string", "invalid utf-8", "lone surrogate", "control character", "wrong type",
         "removed", "hostile string", "bogus number", "reordered", "duplicate key"];

    private static readonly Func<Random, JsonNode?>[] Values =
    [
        _ => null, _ => true, _ => 0, _ => -1, _ => 0.5, _ => long.MaxValue, _ => "", _ => "x", _ => new JsonArray(), _ => new JsonObject(),
        _ => new JsonArray(1, "s", null), _ => new JsonObject { ["type"] = "text" }, _ => new JsonObject { ["type"] = "unknown" },
        _ => "user", _ => "assistant", r => new string('y', r.Next(1, 300)),
    ];

    /// <summary>Breaks <paramref name="json"/> one way, returning the kind of damage and the bytes.</summary>
    public static (string Kind, byte[] Bytes) Damage(Random random, string json)
    {
        var kind = Kinds[random.Next(Kinds.Count)];
        var hugeLength = random.Next(10_000, LongTests ? 4_000_000 : 400_000);
        var bytes = kind switch
        {
            "truncated" => Utf8(json[..random.Next(json.Length)]),
            "random bytes" => RandomBytes(random, random.Next(1, 500)),
            "deep nesting" => Utf8(Replace(random, json, _ => Placeholder).Replace($"\"{Placeholder}\"", Nested(random.Next(40, 2000)), StringComparison.Ordinal)),
            "huge string" => Utf8(Replace(random, json, _ => new string('x', hugeLength))),
            "invalid utf-8" => InsideString(random, json, [0xFF, 0xFE, 0xC3]),
            "lone surrogate" => InsideString(random, json, Utf8(random.Next(2) == 0 ? "\\ud800" : "\\udc00x")),
            "control character" => InsideString(random, json, [(byte)random.Next(0, 32)]),
            "wrong type" => Utf8(Replace(random, json, Values[random.Next(Values.Length)])),
            "removed" => Utf8(Remove(random, json)),
            "hostile string" => Utf8(Replace(random, json, r => HostileStrings[r.Next(HostileStrings.Count)])),
            "bogus number" => Utf8(Number().Replace(json, _ => Pick(random, ["-1", "1e400", "99999999999999999999", "0.5", "-0", "2147483648"]), 1, random.Next(json.Length))),
            "reordered" => Utf8(Reorder(random, json)),
            _ => Utf8(json.Insert(json.IndexOf('{', StringComparison.Ordinal) + 1, "\"messages\":1,\"entries\":{},")),
        };
        return (kind, bytes);
    }

    // Stands for a value too deep for JsonNode to hold, written in after serializing.
    private const string Placeholder = "@@hostile-nesting@@";

    private static string Nested(int depth) => new string('[', depth) + "0" + new string(']', depth);

    public static T Pick<T>(Random random, IReadOnlyList<T> items) => items[random.Next(items.Count)];

    private static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    // Bytes put right after the opening quote of a random string value (byte-level damage a JSON writer cannot produce).
    private static byte[] InsideString(Random random, string json, byte[] inserted)
    {
        var bytes = Utf8(json);
        var quotes = Enumerable.Range(0, bytes.Length).Where(i => bytes[i] == (byte)'"').ToList();
        var at = quotes.Count == 0 ? 0 : quotes[random.Next(quotes.Count)] + 1;
        return [.. bytes[..at], .. inserted, .. bytes[at..]];
    }

    private static string Replace(Random random, string json, Func<Random, JsonNode?> value)
    {
        var root = JsonNode.Parse(json)!;
        var target = Pick(random, Nodes(root).Where(n => n.Parent is not null).ToList());
        var replacement = value(random);
        switch (target.Parent)
        {
            case JsonObject obj:
                obj[target.GetPropertyName()] = replacement;
                break;
            case JsonArray array:
                array[target.GetElementIndex()] = replacement;
                break;
        }
        return root.ToJsonString();
    }

    private static string Remove(Random random, string json)
    {
        var root = JsonNode.Parse(json)!;
        var target = Pick(random, Nodes(root).Where(n => n.Parent is not null).ToList());
        switch (target.Parent)
        {
            case JsonObject obj:
                obj.Remove(target.GetPropertyName());
                break;
            case JsonArray array:
                array.RemoveAt(target.GetElementIndex());
                break;
        }
        return root.ToJsonString();
    }

    private static string Reorder(Random random, string json)
    {
        var root = JsonNode.Parse(json)!;
        var arrays = Nodes(root).OfType<JsonArray>().Where(a => a.Count > 1).ToList();
        if (arrays.Count > 0)
        {
            var array = Pick(random, arrays);
            var items = array.Select(i => i?.DeepClone()).ToArray();
            random.Shuffle(items);
            array.Clear();
            foreach (var item in items)
            {
                array.Add(item);
            }
        }
        return root.ToJsonString();
    }

    private static IEnumerable<JsonNode> Nodes(JsonNode? node)
    {
        if (node is null)
        {
            yield break;
        }
        yield return node;
        var children = node switch
        {
            JsonObject obj => obj.Select(p => p.Value),
            JsonArray array => array,
            _ => [],
        };
        foreach (var child in children.ToList())
        {
            foreach (var descendant in Nodes(child))
            {
                yield return descendant;
            }
        }
    }

    // A number where a value starts: after a colon, a bracket or a comma.
    [System.Text.RegularExpressions.GeneratedRegex(@"(?<=[:\[,])-?\d+(\.\d+)?")]
    private static partial System.Text.RegularExpressions.Regex Number();
}
