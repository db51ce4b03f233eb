using System.Text.Json;
using ConversationLedger.Storage;

namespace ConversationLedger;

/// <summary>
/// Exports a thread as one JSON document and imports such a document (or a plain API-shaped
/// <c>{"system": …, "messages": […]}</c> file) into a new thread. Works with any <see cref="IConversationStore"/>.
/// </summary>
/// <remarks>
/// The export carries <c>format</c>, the thread key, the current system prompt, the current conversation as
/// API messages (edits applied, since the newest reset) and every ledger entry as <see cref="EntryCodec.WriteEntry"/>
/// writes it. An import validates before it stores anything and then appends everything in one atomic append
/// with expected sequence 0, so a rejected file leaves the store untouched and an existing thread is never merged into.
/// </remarks>
public static class ThreadTransfer
{
    /// <summary>The format name written into exports and required (when present) on import.</summary>
    public const string FormatName = "conversation-ledger/1";

    /// <summary>The largest import accepted: 32 MiB.</summary>
    public const long MaxImportBytes = 32L * 1024 * 1024;

    private const int MaxFileDepth = 256;

    private static ReadOnlySpan<byte> Utf8ByteOrderMark => [0xEF, 0xBB, 0xBF];

    /// <summary>Writes the whole thread (archive included) as an export document.</summary>
    /// <exception cref="LedgerNotFoundException">The thread does not exist.</exception>
    public static async Task ExportAsync(IConversationStore store, ThreadKey key, Stream destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(destination);
        var view = ConversationView.Project(await store.ReadWindowAsync(key, WindowSpec.All, cancellationToken));
        if (!view.Head.Exists)
        {
            throw new LedgerNotFoundException($"thread {key} does not exist");
        }
        await using var writer = new Utf8JsonWriter(destination, new JsonWriterOptions { Indented = true, Encoder = Json.Encoder });
        writer.WriteStartObject();
        writer.WriteString("format", FormatName);
        writer.WriteStartObject("thread");
        writer.WriteString("tenant", key.Tenant);
        writer.WriteString("scope", key.Scope);
        writer.WriteString("id", key.ThreadId);
        writer.WriteEndObject();
        if (view.SystemPrompt is not null)
        {
            writer.WriteString("system", view.SystemPrompt);
        }
        writer.WriteStartArray("messages");
        foreach (var message in view.Messages)
        {
            message.Message.WriteTo(writer);
        }
        writer.WriteEndArray();
        writer.WriteStartArray("entries");
        // Page through the ledger up to the head we projected, so a concurrent append cannot tear the export.
        var written = 0;
        await foreach (var entry in store.ReadAllAsync(key, throughSequence: view.Head.LastSequence, cancellationToken: cancellationToken))
        {
            EntryCodec.WriteEntry(writer, entry);
            if (++written % ConversationStoreExtensions.ReadAllPageSize == 0)
            {
                await writer.FlushAsync(cancellationToken);
            }
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
        await writer.FlushAsync(cancellationToken);
    }

    /// <summary>
    /// Reads and validates an export (or a plain API-shaped file) and stores it as the new thread <paramref name="key"/>.
    /// Nothing is stored unless the whole file is valid.
    /// </summary>
    /// <param name="store">The store to import into.</param>
    /// <param name="key">The new thread (the file's own thread key is not used, so a file cannot write into another tenant).</param>
    /// <param name="source">The file's bytes.</param>
    /// <param name="tokenCounter">Counts every message's tokens (a file's own counts are not trusted); <see cref="O200kTokenCounter"/> when null.</param>
    /// <param name="cancellationToken">Cancels the import.</param>
    /// <returns>The new thread's head.</returns>
    /// <exception cref="LedgerFormatException">
    /// The file is too large, not JSON (the message names the position), holds a string that is not text or a message
    /// nested deeper than <see cref="Message.MaxDepth"/>, or is not in either shape.
    /// </exception>
    /// <exception cref="LedgerValidationException">The conversation breaks the strict alternation or the API's rules.</exception>
    /// <exception cref="ConcurrencyConflictException">The thread already exists.</exception>
    public static async Task<ThreadHead> ImportAsync(IConversationStore store, ThreadKey key, Stream source,
        ITokenCounter? tokenCounter = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(source);
        var bytes = await ReadLimitedAsync(source, cancellationToken);
        var entries = Parse(bytes, tokenCounter);
        var result = await store.AppendAsync(key, 0, entries, cancellationToken);
        return result.Head;
    }

    /// <summary>
    /// Parses and validates an import document without storing it: the entries an import would append, their tokens
    /// counted by <paramref name="tokenCounter"/> (<see cref="O200kTokenCounter"/> when null).
    /// </summary>
    /// <exception cref="LedgerFormatException">
    /// The document is too large, not JSON, holds a string that is not text or a message nested deeper than
    /// <see cref="Message.MaxDepth"/>, or is not in either shape.
    /// </exception>
    /// <exception cref="LedgerValidationException">The conversation breaks the strict alternation or the API's rules.</exception>
    public static IReadOnlyList<LedgerEntry> Parse(ReadOnlyMemory<byte> document, ITokenCounter? tokenCounter = null)
    {
        if (document.Length > MaxImportBytes)
        {
            throw TooLarge(document.Length);
        }
        // A UTF-8 byte order mark (Windows editors, PowerShell 5) is not JSON: the parser would stop at byte 1.
        if (document.Span.StartsWith(Utf8ByteOrderMark))
        {
            document = document[Utf8ByteOrderMark.Length..];
        }
        JsonDocument json;
        try
        {
            // Deeper than any export nests a valid message, so a message too deep is reported by the message check.
            json = JsonDocument.Parse(document, new JsonDocumentOptions { MaxDepth = MaxFileDepth });
        }
        catch (JsonException ex)
        {
            throw new LedgerFormatException(
                $"the file is not valid JSON (line {(ex.LineNumber ?? 0) + 1}, byte {(ex.BytePositionInLine ?? 0) + 1}): {ex.Message}", ex);
        }
        using (json)
        {
            // Every string of the file at once (thread id, kinds, payloads): any of them read later would throw.
            if (JsonInput.Problem(document.Span, MaxFileDepth) is { } problem)
            {
                throw new LedgerFormatException($"the file {problem}");
            }
            var root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new LedgerFormatException($"the file must hold a JSON object, got {root.ValueKind}");
            }
            if (root.TryGetProperty("format", out var format)
                && (format.ValueKind != JsonValueKind.String || format.GetString() != FormatName))
            {
                throw new LedgerFormatException($"unknown format {Excerpt.Of(format.GetRawText())}; this version reads \"{FormatName}\"");
            }
            var entries = root.TryGetProperty("entries", out var list)
                ? ReadEntries(list)
                : ReadApiShape(root);
            Validate(entries);
            return Counted(entries, tokenCounter ?? O200kTokenCounter.Instance);
        }
    }

    private static List<LedgerEntry> ReadEntries(JsonElement list)
    {
        if (list.ValueKind != JsonValueKind.Array)
        {
            throw new LedgerFormatException($"\"entries\" must be an array, got {list.ValueKind}");
        }
        var entries = new List<LedgerEntry>();
        foreach (var item in list.EnumerateArray())
        {
            var entry = EntryCodec.ReadEntry(item, entries.Count + 1);
            // Pins and edits name entries by sequence, so the file's numbering must be the one the store will assign.
            if (entry.Sequence != 0 && entry.Sequence != entries.Count + 1)
            {
                throw new LedgerFormatException($"entry {entries.Count + 1} has sequence {entry.Sequence}; entries must be numbered 1, 2, 3 … in order");
            }
            if (EntryCodec.TargetOf(entry) is { } target
                && (target < 1 || target > entries.Count || entries[(int)target - 1].Kind != EntryKind.Message))
            {
                throw new LedgerFormatException($"entry {entries.Count + 1} ({EntryCodec.KindName(entry.Kind)}) refers to entry {target}, which is not an earlier message");
            }
            entries.Add(entry with { Sequence = 0 });
        }
        return entries;
    }

    private static List<LedgerEntry> ReadApiShape(JsonElement root)
    {
        if (!root.TryGetProperty("messages", out var messages) || messages.ValueKind != JsonValueKind.Array)
        {
            throw new LedgerFormatException("the file needs a \"messages\" array (an API request) or an \"entries\" array (an export)");
        }
        var entries = new List<LedgerEntry>();
        if (root.TryGetProperty("system", out var system))
        {
            var text = system.ValueKind switch
            {
                JsonValueKind.String => system.GetString()!,
                // The API also takes the system prompt as text blocks.
                JsonValueKind.Array => string.Join("\n\n", system.EnumerateArray().Select(b => ContentBlock.From(b).Text ?? "")),
                JsonValueKind.Null => "",
                _ => throw new LedgerFormatException($"\"system\" must be a string or an array of text blocks, got {system.ValueKind}"),
            };
            if (text.Length > 0)
            {
                entries.Add(new SystemPromptEntry(text, 1));
            }
        }
        var index = 0;
        foreach (var item in messages.EnumerateArray())
        {
            Message message;
            try
            {
                message = Message.Parse(item);
            }
            catch (LedgerFormatException ex)
            {
                throw new LedgerFormatException($"message {index}: {ex.Message}", ex);
            }
            entries.Add(new MessageEntry(message));
            index++;
        }
        return entries;
    }

    // A file's counts are not trusted: budgets and token windows are computed from them (a huge count would push all
    // history out of every request).
    private static List<LedgerEntry> Counted(List<LedgerEntry> entries, ITokenCounter counter) => entries.ConvertAll(entry => entry switch
    {
        MessageEntry m => m with { Tokens = counter.CountTokens(m.Message) },
        EditEntry e => e with { Tokens = 0, ReplacementTokens = counter.CountTokens(e.Replacement) },
        _ => entry with { Tokens = 0 },
    });

    private static void Validate(List<LedgerEntry> entries)
    {
        // Validate what the thread will be: the conversation the store would project after the append.
        var (stamped, head) = ThreadHead.Empty(new ThreadKey("import", "import", "import")).Advance(entries, DateTimeOffset.UnixEpoch);
        var view = ConversationView.Project(new ThreadWindow(head, stamped));
        ConversationValidator.ThrowIfInvalid(view.AsMessages(), ValidationOptions.StrictHistory);
        // A thread stores whole turns: after a question without its reply, every turn sent would put two user messages
        // in a row. An API request body ends this way; its last question is the next turn to send, not history.
        if (view.Messages.Count > 0 && view.Messages[^1].Message.Role == Role.User)
        {
            throw new LedgerFormatException(
                $"the conversation ends with user message {view.Messages.Count - 1}, which has no reply; a thread holds whole turns, so remove it from the file and send it after the import");
        }
        // Only a file with nothing to store is refused: a thread may hold events alone (a system prompt set before
        // its first turn), and its export must import.
        if (entries.Count == 0)
        {
            throw new LedgerFormatException("the file holds no messages");
        }
    }

    private static async Task<ReadOnlyMemory<byte>> ReadLimitedAsync(Stream source, CancellationToken cancellationToken)
    {
        if (source.CanSeek && source.Length - source.Position > MaxImportBytes)
        {
            throw TooLarge(source.Length - source.Position);
        }
        // Read at most one byte past the limit: an unseekable stream is refused without reading it all.
        var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await source.ReadAsync(chunk, cancellationToken)) > 0)
        {
            buffer.Write(chunk, 0, read);
            if (buffer.Length > MaxImportBytes)
            {
                throw TooLarge(buffer.Length);
            }
        }
        return buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
    }

    private static LedgerFormatException TooLarge(long size) =>
        new($"the file is too large to import ({size / (1024.0 * 1024):N1} MB read; the limit is {MaxImportBytes / (1024 * 1024)} MB); nothing was stored");
}
