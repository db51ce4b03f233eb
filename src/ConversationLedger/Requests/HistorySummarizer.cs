using System.Text;

namespace ConversationLedger;

/// <summary>
/// Writes a running summary of dropped history with the model: the previous summary plus the newly dropped
/// messages in, the new summary out. The prompt asks to keep names, numbers, identifiers, code and error
/// messages exactly, because those are what a summary usually loses and users later ask about.
/// </summary>
public static class HistorySummarizer
{
    /// <summary>The instructions given to the model.</summary>
    public const string Instructions =
        "You maintain the running summary of a conversation between a user and an assistant. " +
        "Merge the previous summary and the new messages into one updated summary, written in the third person, as short bullet points. " +
        "Keep exactly, character for character: names of people, places and products; numbers, amounts, dates and versions; " +
        "identifiers, file names, URLs, commands; code snippets; error messages and stack trace lines; decisions made and open questions. " +
        "Drop pleasantries and repetition. Answer with the summary only.";

    /// <summary>
    /// The message as the summarizer reads it, cut to about <paramref name="maxTokens"/> (its start and end kept) when it is
    /// longer, so that no summary request goes over the summary model's window; <paramref name="tokens"/> is what it counts.
    /// </summary>
    public static Message Clip(Message message, long maxTokens, ITokenCounter counter, out long tokens)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(counter);
        var text = Render(message);
        tokens = counter.CountText(text) + 8;
        if (tokens <= maxTokens)
        {
            return message;
        }
        // Roughly three characters a token keeps the cut under the budget; count again to be sure.
        var keep = (int)Math.Max(0, Math.Min(text.Length, (maxTokens - 64) * 3) / 2);
        var clipped = text[..keep] + "\n[… cut to fit the summary request …]\n" + text[^keep..];
        while (counter.CountText(clipped) + 8 > maxTokens && keep > 0)
        {
            keep /= 2;
            clipped = text[..keep] + "\n[… cut to fit the summary request …]\n" + text[^keep..];
        }
        tokens = counter.CountText(clipped) + 8;
        return new Message(message.Role, [ContentBlock.CreateText(clipped)]);
    }

    // A message as text. Thinking is the model's working, not what was said (and with its display omitted, only a signature).
    private static string Render(Message message) =>
        string.Join("\n", message.Content.Where(b => !b.IsThinking).Select(b => b.Type == "text" ? b.Text : $"[{b.Type}] {b.ReadableText()}")
            .Where(t => !string.IsNullOrWhiteSpace(t)));

    /// <summary>The request that asks for a summary.</summary>
    public static ModelRequest BuildRequest(string model, int maxTokens, string? previousSummary, IEnumerable<Message> dropped)
    {
        ArgumentNullException.ThrowIfNull(dropped);
        var text = new StringBuilder();
        text.Append("Previous summary:\n").Append(string.IsNullOrWhiteSpace(previousSummary) ? "(none)" : previousSummary).Append("\n\nNew messages:\n");
        foreach (var message in dropped)
        {
            text.Append(message.Role == Role.User ? "User: " : "Assistant: ").Append(Render(message)).Append('\n');
        }
        text.Append("\nWrite the updated summary.");
        return new ModelRequest
        {
            Model = model,
            MaxTokens = maxTokens,
            System = [ContentBlock.CreateText(Instructions)],
            Messages = [Message.User(text.ToString())],
        };
    }
}
