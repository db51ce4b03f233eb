using System.Security.Cryptography;
using System.Text;

namespace ConversationLedger.Emulator;

/// <summary>
/// Signatures of the thinking blocks the emulator writes, bound to the prompt they answered, the way the newest
/// models bind them: a thinking block sent back after anything before it changed (tools, system, earlier
/// messages — cache_control markers aside) fails with the API's "Invalid `signature`" error; one with edited text fails
/// the same way, except in the latest assistant message, where the API says such blocks "cannot be modified".
/// Signatures the emulator did not write (scripted ones) are not checked. Stateless and thread-safe.
/// </summary>
internal static class ThinkingSignatures
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
        var (full, prompt) = Macs(parsed, messageCount, thinking);
        // The second part binds the prompt alone, so an edit of the text can be told from a change before it.
        return Prefix + full + "." + prompt;
    }

    // The MAC of the prompt and the thinking text, and the MAC of the prompt alone (both Base64).
    private static (string Full, string Prompt) Macs(ParsedRequest parsed, int messageCount, string thinking)
    {
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
        var prompt = Convert.ToBase64String(hmac.GetCurrentHash());
        Add("thinking");
        Add(thinking);
        return (Convert.ToBase64String(hmac.GetHashAndReset()), prompt);
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
        var latestAssistant = LastIndexOf(messages, Role.Assistant);
        for (var n = 0; n < messages.Count; n++)
        {
            if (messages[n].Role != Role.Assistant)
            {
                continue;
            }
            for (var k = 0; k < messages[n].Content.Count; k++)
            {
                if (messages[n].Content[k].Thinking is not { Signature: { } signature } thinking || !signature.StartsWith(Prefix, StringComparison.Ordinal))
                {
                    continue;
                }
                var parts = signature[Prefix.Length..].Split('.');
                var (full, prompt) = Macs(parsed, n, thinking.Text);
                if (Same(parts[0], full))
                {
                    continue;
                }
                // The prompt still matches, so the text was edited: the API words that differently in the latest turn.
                return n == latestAssistant && parts.Length > 1 && Same(parts[1], prompt)
                    ? ApiErrors.ThinkingModified(n, k)
                    : ApiErrors.InvalidThinkingSignature(n, k);
            }
        }
        return null;
    }

    private static bool Same(string a, string b) =>
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(a), Encoding.UTF8.GetBytes(b));

    private static int LastIndexOf(IReadOnlyList<Message> messages, Role role)
    {
        for (var n = messages.Count - 1; n >= 0; n--)
        {
            if (messages[n].Role == role)
            {
                return n;
            }
        }
        return -1;
    }

    private static bool DropsMismatchedBlocks(System.Text.Json.JsonElement? thinking) =>
        thinking is { ValueKind: System.Text.Json.JsonValueKind.Object } t
        && t.TryGetProperty("block_binding", out var binding) && binding.ValueKind == System.Text.Json.JsonValueKind.Object
        && binding.TryGetProperty("prefix_mismatch_behavior", out var behavior) && behavior.ValueKind == System.Text.Json.JsonValueKind.String
        && behavior.GetString() == "drop_block";
}
