using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace ConversationLedger.Emulator;

/// <summary>
/// A request's prompt as the cache sees it: a sequence of blocks in cache order (tools → system → messages),
/// each with its tokens, the hash of the exact prefix up to and including it, and its breakpoint TTL if marked.
/// Token figures come from <see cref="O200kTokenCounter"/>, so the blocks add up to its count of the request.
/// </summary>
internal sealed class PromptLayout
{
    private PromptLayout(IReadOnlyList<PromptBlock> blocks, long totalTokens)
    {
        Blocks = blocks;
        TotalTokens = totalTokens;
    }

    /// <summary>The blocks in cache order; the first is the request framing.</summary>
    public IReadOnlyList<PromptBlock> Blocks { get; }

    /// <summary>All prompt tokens: <c>O200kTokenCounter.Instance.CountTokens(request)</c>.</summary>
    public long TotalTokens { get; }

    /// <summary>How many breakpoints a request sets, the automatic one included.</summary>
    public static int CountBreakpoints(ParsedRequest parsed)
    {
        ArgumentNullException.ThrowIfNull(parsed);
        var request = parsed.Request;
        var explicitCount = parsed.Tools.Count(t => RequestReader.BreakpointTtl(t) is not null)
            + request.System.Count(b => b.HasCacheControl)
            + request.Messages.Sum(m => m.Content.Count(b => b.HasCacheControl));
        return explicitCount + (AutomaticBreakpointAdds(request) ? 1 : 0);
    }

    /// <summary>Lays out a request for cache accounting.</summary>
    /// <param name="parsed">The request.</param>
    /// <param name="tokenFactor">How many more tokens the model's tokenizer counts than o200k (<see cref="ModelInfo.TokenFactor"/>).</param>
    public static PromptLayout Create(ParsedRequest parsed, double tokenFactor = 1.0)
    {
        ArgumentNullException.ThrowIfNull(parsed);
        var request = parsed.Request;
        var counter = O200kTokenCounter.Instance;
        var total = counter.CountTokens(request);
        var blocks = new List<PromptBlock>();
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long cumulative = 0;

        void Add(string kind, string canonicalJson, long tokens, string? ttl)
        {
            // Length-prefixed so that two different sequences of blocks can never hash alike.
            var bytes = Encoding.UTF8.GetBytes(kind + "\n" + canonicalJson);
            hash.AppendData(BitConverter.GetBytes(bytes.Length));
            hash.AppendData(bytes);
            cumulative += tokens;
            blocks.Add(new PromptBlock(Convert.ToHexString(hash.GetCurrentHash()), tokens, cumulative, ttl));
        }

        Add("request", request.Model, O200kTokenCounter.RequestOverhead, null);

        // The counter counts the tools array as one text; each tool's share is its own count, the last takes the rest.
        var toolsTotal = request.Tools is { } toolsJson ? O200kTokenCounter.CountText(toolsJson.GetRawText()) : 0;
        long toolsSoFar = 0;
        for (var i = 0; i < parsed.Tools.Count; i++)
        {
            var tool = parsed.Tools[i];
            var upTo = i == parsed.Tools.Count - 1 ? toolsTotal : Math.Min(toolsTotal, toolsSoFar + O200kTokenCounter.CountText(tool.GetRawText()));
            Add("tool", WithoutCacheControl(tool), upTo - toolsSoFar, RequestReader.BreakpointTtl(tool));
            toolsSoFar = upTo;
        }

        foreach (var block in request.System)
        {
            Add("system", block.WithCacheControl(null).Json, BlockTokens.Of(block), RequestReader.BreakpointTtl(block.Element));
        }

        var automatic = request.AutomaticCacheTtl is null ? null : LastCacheableBlock(request);
        for (var n = 0; n < request.Messages.Count; n++)
        {
            var message = request.Messages[n];
            if (message.Content.Count == 0)
            {
                Add("message:" + message.Role.Value, "", O200kTokenCounter.MessageOverhead, null);
                continue;
            }
            for (var k = 0; k < message.Content.Count; k++)
            {
                var block = message.Content[k];
                var tokens = BlockTokens.Of(block) + (k == 0 ? O200kTokenCounter.MessageOverhead : 0);
                var ttl = RequestReader.BreakpointTtl(block.Element);
                if (ttl is null && automatic == (n, k))
                {
                    ttl = request.AutomaticCacheTtl;
                }
                Add((k == 0 ? "message:" : "block:") + message.Role.Value, block.WithCacheControl(null).Json, tokens, ttl);
            }
        }

        if (cumulative != total)
        {
            // The per-block figures must add up to the counter's; if they ever drift, the framing block absorbs it.
            var first = blocks[0];
            var shift = total - cumulative;
            blocks[0] = first with { Tokens = first.Tokens + shift, CumulativeTokens = first.CumulativeTokens + shift };
            for (var i = 1; i < blocks.Count; i++)
            {
                blocks[i] = blocks[i] with { CumulativeTokens = blocks[i].CumulativeTokens + shift };
            }
        }
        if (tokenFactor != 1.0)
        {
            // The model's tokenizer: every prefix position scales, so blocks, breakpoints and the total stay consistent.
            long previous = 0;
            for (var i = 0; i < blocks.Count; i++)
            {
                var at = TokenCalibration.Apply(blocks[i].CumulativeTokens, tokenFactor);
                blocks[i] = blocks[i] with { Tokens = at - previous, CumulativeTokens = at };
                previous = at;
            }
            total = TokenCalibration.Apply(total, tokenFactor);
        }
        return new PromptLayout(blocks, total);
    }

    private static bool AutomaticBreakpointAdds(ModelRequest request) =>
        request.AutomaticCacheTtl is not null
        && LastCacheableBlock(request) is var (n, k) && !request.Messages[n].Content[k].HasCacheControl;

    // Automatic caching (top-level cache_control) marks the last cacheable block; an empty final message (a prefill
    // slot) has none, so the mark falls on the last block before it.
    private static (int Message, int Block)? LastCacheableBlock(ModelRequest request)
    {
        for (var n = request.Messages.Count - 1; n >= 0; n--)
        {
            if (request.Messages[n].Content.Count > 0)
            {
                return (n, request.Messages[n].Content.Count - 1);
            }
        }
        return null;
    }

    /// <summary>A tool definition's JSON without its cache_control marker (markers move between requests; the prefix does not).</summary>
    internal static string WithoutCacheControl(JsonElement tool)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartObject();
            foreach (var property in tool.EnumerateObject())
            {
                if (!property.NameEquals("cache_control"))
                {
                    property.WriteTo(writer);
                }
            }
            writer.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }
}

/// <summary>One block of a <see cref="PromptLayout"/>.</summary>
/// <param name="PrefixHash">The SHA-256 of the exact prompt up to and including this block (cache_control markers excluded).</param>
/// <param name="Tokens">This block's tokens.</param>
/// <param name="CumulativeTokens">Tokens of the prefix up to and including this block.</param>
/// <param name="BreakpointTtl">"5m" or "1h" when the block is a cache breakpoint; otherwise null.</param>
internal sealed record PromptBlock(string PrefixHash, long Tokens, long CumulativeTokens, string? BreakpointTtl);
