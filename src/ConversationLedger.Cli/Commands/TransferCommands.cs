using System.ComponentModel;
using System.Text.Json;
using ConversationLedger.Cli.Hosting;
using Spectre.Console;

namespace ConversationLedger.Cli.Commands;

/// <summary><c>ledger export THREAD [-o FILE]</c>.</summary>
[Description("Write a thread (archive included) as one JSON document")]
public sealed class ExportCommand(CliServices services) : ThreadCommand<ExportSettings>(services)
{
    /// <inheritdoc />
    protected override StoreAccess Access => StoreAccess.ReadOnly;

    /// <inheritdoc />
    protected override async Task<int> RunAsync(ExportSettings settings, CancellationToken cancellationToken)
    {
        await using var session = await OpenAsync(settings, withModel: false, cancellationToken);
        var key = session.Key(settings.Thread);
        if (settings.Output is null)
        {
            using var buffer = new MemoryStream();
            await ThreadTransfer.ExportAsync(session.Store, key, buffer, cancellationToken);
            // Through the console's writer, so the document goes where all other output goes.
            var writer = Console.Profile.Out.Writer;
            await writer.WriteLineAsync(System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
            await writer.FlushAsync(cancellationToken);
            return 0;
        }
        // Written beside the target and moved into place, so a failed export never leaves half a file.
        var output = Path.GetFullPath(settings.Output);
        var partial = output + ".partial";
        try
        {
            await using (var file = File.Create(partial))
            {
                await ThreadTransfer.ExportAsync(session.Store, key, file, cancellationToken);
            }
            File.Move(partial, output, overwrite: true);
        }
        finally
        {
            File.Delete(partial);
        }
        Console.MarkupLine($"[green]exported[/] {Markup.Escape(key.ToString())} to {Markup.Escape(output)}");
        return 0;
    }
}

/// <summary><c>ledger import FILE [--as ID]</c>.</summary>
[Description("Import a thread from an export (or a plain {\"system\", \"messages\"} file); it is validated before anything is stored")]
public sealed class ImportCommand(CliServices services) : LedgerCommand<ImportSettings>(services)
{
    /// <inheritdoc />
    protected override Spectre.Console.ValidationResult ValidateMore(ImportSettings settings) =>
        !File.Exists(settings.File) ? Spectre.Console.ValidationResult.Error($"no such file: {settings.File}")
        : settings.As is null ? Spectre.Console.ValidationResult.Success()
        : CheckId(settings.As, "--as thread") ?? Spectre.Console.ValidationResult.Success();

    /// <inheritdoc />
    protected override async Task<int> RunAsync(ImportSettings settings, CancellationToken cancellationToken)
    {
        // Checked before reading, so a huge file is refused by size rather than read into memory.
        var size = new FileInfo(settings.File).Length;
        if (size > ThreadTransfer.MaxImportBytes)
        {
            throw new LedgerFormatException($"{settings.File} is {size:N0} bytes; an import may be at most {ThreadTransfer.MaxImportBytes:N0}");
        }
        var bytes = await File.ReadAllBytesAsync(settings.File, cancellationToken);
        var inFile = ThreadIdIn(bytes);
        var threadId = settings.As ?? inFile ?? Path.GetFileNameWithoutExtension(settings.File);
        if (settings.As is null && CheckId(threadId, "thread") is not null)
        {
            // --as was checked up front; an id taken from the file or its name was not: say where it came from.
            throw new LedgerFormatException($"{(inFile is null ? "the file name" : "the file's thread id")} \"{threadId}\" cannot be used: it must be 1–{ThreadKey.MaxPartLength} characters without control characters; --as ID names the new thread");
        }
        await using var session = await OpenAsync(settings, withModel: false, cancellationToken);
        var key = session.Key(threadId);
        if ((await session.Store.GetHeadAsync(key, cancellationToken)).Exists)
        {
            throw new LedgerException($"thread {key} already exists; --as NEW-ID imports it under another id");
        }
        using var source = new MemoryStream(bytes, writable: false);
        var head = await Console.Status().StartAsync($"importing {bytes.Length:N0} bytes…",
            _ => ThreadTransfer.ImportAsync(session.Store, key, source, session.Ledger.TokenCounter, cancellationToken));
        Console.MarkupLine($"[green]imported[/] {head.LastSequence} entries ({head.RunningMessages} messages) into {Markup.Escape(key.ToString())}");
        return 0;
    }

    // The id the export was taken from; its tenant and scope are never used (an import cannot write elsewhere).
    private static string? ThreadIdIn(byte[] bytes)
    {
        try
        {
            // Skip a UTF-8 byte order mark, as the import does.
            var json = bytes.AsMemory();
            if (json.Span.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
            {
                json = json[3..];
            }
            using var document = JsonDocument.Parse(json);
            return document.RootElement is { ValueKind: JsonValueKind.Object } root
                && root.TryGetProperty("thread", out var thread) && thread.ValueKind == JsonValueKind.Object
                && thread.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String
                ? id.GetString()
                : null;
        }
        // Not JSON, or an id that is not text (reading it throws): the import itself reports what is wrong with the file.
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            return null;
        }
    }
}
