using System.Net;
using System.Text.Json.Nodes;

namespace ConversationLedger.Emulator.Tests;

/// <summary>Random structural damage to valid requests must never produce a 500.</summary>
public sealed class FuzzTests : EmulatorTestBase
{
    private static readonly string[] Seeds =
    [
        """{"model":"claude-opus-4-1","max_tokens":2000,"system":[{"type":"text","text":"Be brief.","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":"Weather?"},{"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":"s"},{"type":"tool_use","id":"toolu_1","name":"w","input":{"city":"Paris"}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"sunny"}]},{"type":"text","text":"and?"}]}],"tools":[{"name":"w","input_schema":{"type":"object"},"cache_control":{"type":"ephemeral","ttl":"1h"}}],"thinking":{"type":"enabled","budget_tokens":1024},"stop_sequences":["x"],"cache_control":{"type":"ephemeral"}}""",
        """{"model":"claude-opus-4-1","max_tokens":100,"stream":true,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAAA"}},{"type":"document","source":{"type":"text","media_type":"text/plain","data":"doc"}},{"type":"text","text":"hi"}]},{"role":"assistant","content":"ok"}]}""",
    ];

    private static readonly Func<Random, JsonNode?>[] Replacements =
    [
        _ => null, _ => 0, _ => -1, _ => 1e308, _ => "", _ => " ", _ => "x", _ => new JsonArray(), _ => new JsonObject(), _ => true,
        _ => new JsonArray(new JsonObject(), 1, "s"), _ => new JsonObject { ["type"] = "text" }, _ => new JsonObject { ["type"] = "unknown_block" },
        r => new string('y', r.Next(1, 200)), _ => long.MaxValue, _ => "user", _ => "assistant", _ => "tool_use",
    ];

    [Fact]
    public async Task Randomly_damaged_requests_never_get_a_500()
    {
        // FUZZ_SEED and FUZZ_COUNT widen a local run; the default is a fixed, fast sample.
        var random = new Random(int.TryParse(Environment.GetEnvironmentVariable("FUZZ_SEED"), out var seed) ? seed : 20261128);
        var count = int.TryParse(Environment.GetEnvironmentVariable("FUZZ_COUNT"), out var c) ? c : 400;
        var statuses = new Dictionary<HttpStatusCode, int>();
        for (var i = 0; i < count; i++)
        {
            var node = JsonNode.Parse(Seeds[i % Seeds.Length])!;
            for (var m = random.Next(1, 4); m > 0; m--)
            {
                Mutate(node, random);
            }
            var path = i % 5 == 0 ? "/v1/messages/count_tokens" : "/v1/messages";
            using var response = await PostAsync(path, node.ToJsonString());
            var body = await response.Content.ReadAsStringAsync();

            Assert.True((int)response.StatusCode < 500, $"{(int)response.StatusCode} for {node.ToJsonString()}: {body}");
            statuses[response.StatusCode] = statuses.GetValueOrDefault(response.StatusCode) + 1;
        }
        Assert.True(statuses.GetValueOrDefault(HttpStatusCode.BadRequest) > 100);
    }

    private static void Mutate(JsonNode root, Random random)
    {
        var all = new List<JsonNode>();
        Collect(root, all);
        var target = all[random.Next(all.Count)];
        var parent = target.Parent;
        if (parent is null)
        {
            return;
        }
        var replacement = Replacements[random.Next(Replacements.Length)](random);
        if (parent is JsonObject obj)
        {
            var name = target.GetPropertyName();
            if (random.Next(4) == 0)
            {
                obj.Remove(name);
            }
            else
            {
                obj[name] = replacement;
            }
        }
        else if (parent is JsonArray array)
        {
            var index = target.GetElementIndex();
            if (random.Next(4) == 0)
            {
                array.RemoveAt(index);
            }
            else
            {
                array[index] = replacement;
            }
        }
    }

    private static void Collect(JsonNode? node, List<JsonNode> all)
    {
        if (node is null)
        {
            return;
        }
        all.Add(node);
        if (node is JsonObject obj)
        {
            foreach (var (_, child) in obj)
            {
                Collect(child, all);
            }
        }
        else if (node is JsonArray array)
        {
            foreach (var child in array)
            {
                Collect(child, all);
            }
        }
    }
}
