using System.Security.Cryptography;
using System.Text;

namespace ConversationLedger.Emulator;

/// <summary>
/// Signatures of the thinking blocks the emulator writes, bound to the prompt they answered, the way the newest
/// models bind them: a thinking block sent back after anything before it changed (tools, system, earlier
/// messages — cache_control markers aside) or with edited text fails with the API's "Invalid `signature`" error.
/// Signatures the emulator did not write (scripted ones) are not checked. Stateless and thread-safe.
/// </summary>
public static class ThinkingSignatures
{
    /// <summary>How the emulator's signatures start.</summary>
    public const string Prefix = "emu1.";

    // Fixed, so that a restarted emulator still accepts histories it signed; it proves nothing to anyone else.
    private static readonly byte[] Key = Encoding.UTF8.GetBytes("conversation-ledger-emulator/thinking-binding");

    /// <summary>The signature of a thinking block written as the reply to the first <paramref name="messageCount"/> messages.</summary>
    public static string Sign(ParsedRequest parsed, int messageCount, string thinking)
    {
        ArgumentNullException.ThrowIfNull(parsed);
        ArgumentNullException.ThrowIfNull(thinking);
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, Key);
        void Add(string text)
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            hmac.AppendData(BitConverter.GetBytes(bytes.Length));
            hmac.AppendData(bytes);
        }
        foreach (var tool in parsed.Tools)
        {
            Add("tool");
            Add(PromptLayout.WithoutCacheControl(tool));
        }
        foreach (var block in parsed.Request.System)
        {
            Add("system");
            Add(block.WithCacheControl(null).Json);
        }
        foreach (var message in parsed.Request.Messages.Take(messageCount))
        {
            Add("message:" + message.Role.Value);
            foreach (var block in message.Content)
            {
                Add(block.WithCacheControl(null).Json);
            }
        }
        Add("thinking");
        Add(thinking);
        return Prefix + Convert.ToBase64String(hmac.GetHashAndReset());
    }

    /// <summary>The first emulator-signed thinking block whose prompt or text changed, as the API's 400; null when none.</summary>
    public static ApiError? Verify(ParsedRequest parsed)
    {
        ArgumentNullException.ThrowIfNull(parsed);
        if (DropsMismatchedBlocks(parsed.Request.Thinking))
        {
            // thinking.block_binding.prefix_mismatch_behavior "drop_block": the API drops such blocks instead of failing.
            return null;
        }
        var messages = parsed.Request.Messages;
        for (var n = 0; n < messages.Count; n++)
        {
            if (messages[n].Role != Role.Assistant)
            {
                continue;
            }
            for (var k = 0; k < messages[n].Content.Count; k++)
            {
                if (messages[n].Content[k].Thinking is { Signature: { } signature } thinking
                    && signature.StartsWith(Prefix, StringComparison.Ordinal)
                    && !CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(signature), Encoding.UTF8.GetBytes(Sign(parsed, n, thinking.Text))))
                {
                    return ApiErrors.BadRequest($"messages.{n}.content.{k}: Invalid `signature` in `thinking` block");
                }
            }
        }
        return null;
    }

    private static bool DropsMismatchedBlocks(System.Text.Json.JsonElement? thinking) =>
        thinking is { ValueKind: System.Text.Json.JsonValueKind.Object } t
        && t.TryGetProperty("block_binding", out var binding) && binding.ValueKind == System.Text.Json.JsonValueKind.Object
        && binding.TryGetProperty("prefix_mismatch_behavior", out var behavior) && behavior.ValueKind == System.Text.Json.JsonValueKind.String
        && behavior.GetString() == "drop_block";
}
