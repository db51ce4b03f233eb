namespace ConversationLedger.Tests.TestSupport;

/// <summary>
/// Blocks written the way no serializer would write them — odd whitespace, unusual key order, unicode escapes,
/// numbers with trailing zeros — so that only a store that keeps them verbatim can give them back unchanged.
/// </summary>
internal static class RawJson
{
    public const string ThinkingBlock =
        """{ "signature" : "EqQBCkYIBxgCKkB\u002Bq9/Zx==" ,"type":"thinking",   "thinking":"caf\u00e9 \ud83d\ude00 \"quoted\"" }""";

    public const string UnknownBlock =
        """{"z_last_first":1,  "type" : "future_block_2027","payload":{ "b":[1,2.50,true,null,1e3], "a":"\u0041\/b" } }""";

    public const string RedactedThinkingBlock = """{"data":"RW5jcnlwdGVk\u003d","type":"redacted_thinking"}""";

    public const string TextBlock = """{"text":"The answer\u0021","type":"text"}""";

    /// <summary>An assistant message, keys in reverse order, with the blocks above separated by odd whitespace.</summary>
    public static string AssistantMessage =>
        "{\"content\":[\n  " + ThinkingBlock + " ,\t" + RedactedThinkingBlock + ",\r\n" + UnknownBlock + " , " + TextBlock + "\n], \"role\" : \"assistant\"}";

    public static string[] AssistantBlocks => [ThinkingBlock, RedactedThinkingBlock, UnknownBlock, TextBlock];
}
