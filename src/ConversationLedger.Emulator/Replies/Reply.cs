namespace ConversationLedger.Emulator;

/// <summary>The assistant's reply to one request, before it is written as JSON or SSE.</summary>
/// <param name="Content">The content blocks.</param>
/// <param name="StopReason">Why the reply stopped.</param>
/// <param name="StopSequence">The stop sequence that ended it, if one did.</param>
/// <param name="OutputTokens">Output tokens, thinking included, by <see cref="O200kTokenCounter"/>.</param>
/// <param name="ThinkingTokens">The part of <paramref name="OutputTokens"/> spent in thinking blocks.</param>
internal sealed record Reply(IReadOnlyList<ContentBlock> Content, string StopReason, string? StopSequence, long OutputTokens, long ThinkingTokens);
