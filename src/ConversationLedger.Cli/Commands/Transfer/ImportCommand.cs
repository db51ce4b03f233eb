using System.ComponentModel;
using System.Text.Json;
using ConversationLedger.Cli.Commands;
using ConversationLedger.Cli.Hosting;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ConversationLedger.Cli.Commands.Transfer;

/// <summary><c>ledger import FILE [--as ID]</c>.</summary>
[Description("Import a thread from an export (or a plain {\"system\", \"messages\"} file); it is validated before anything is stored")]
public sealed class ImportCommand(CliServices services) : LedgerCommand<ImportCommand.Settings>(services)
{
    /// <summary>Options of <c>ledger import</c>.</summary>
    public sealed class Settings : LedgerSettings
    {
        /// <summary>The file to read.</summary>
        [CommandArgument(0, "<FILE>")]
        [Description("An export written by ledger export")]
        public string File { get; set; } = "";

        /// <summary>The thread to import into (default: the id in the file).</summary>
        [CommandOption("--as <ID>")]
        [Description("The thread id to import as (default: the one in the file)")]
        public string? As { get; set; }
    }

    /// <inheritdoc />
    protected override Spectre.Console.ValidationResult ValidateMore(Settings settings) =>
        !File.Exists(settings.File) ? Spectre.Console.ValidationResult.Error($"no such file: {settings.File}")
        : settings.As is null ? Spectre.Console.ValidationResult.Success()
        : CheckId(settings.As, "--as thread") ?? Spectre.Console.ValidationResult.Success();

    /// <inheritdoc />
    protected override async Task<int> RunAsync(Settings settings, CancellationToken cancellationToken)
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
        var counter = session.Ledger.TokenCounter;
        ThreadHead head;
        try
        {
            head = await WithSpinnerAsync($"importing {bytes.Length:N0} bytes…", async () =>
            {
                // Checking and counting a large file is CPU work a token cannot stop: it is waited on, so Ctrl+C ends the
                // command at once; the work left behind ends with the process, and nothing has been stored by then.
                var entries = await Task.Run(() => ThreadTransfer.Parse(bytes, counter), cancellationToken).WaitAsync(cancellationToken);
                cancellationToken.ThrowIfCancellationRequested();
                // One append: the whole thread is stored, or nothing.
                return (await session.Store.AppendAsync(key, 0, entries, cancellationToken)).Head;
            });
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            if (await session.Store.GetHeadAsync(key, CancellationToken.None) is { Exists: true } stored)
            {
                // Ctrl+C came as the append committed.
                Services.Errors.MarkupLine($"[yellow]cancelled, but only after all {stored.LastSequence:N0} entries were stored in {Markup.Escape(key.ToString())}[/]");
            }
            else
            {
                Services.Errors.MarkupLine("[yellow]cancelled: nothing was imported[/]");
            }
            return CommandGuard.CancelledExitCode;
        }
        Console.MarkupLine($"[green]imported[/] {head.LastSequence} entries ({head.RunningMessages} messages) into {Markup.Escape(key.ToString())}");
        return 0;
    }

    // A spinner only where someone watches it: piped, the status line would be one more line of output.
    private Task<T> WithSpinnerAsync<T>(string status, Func<Task<T>> work) =>
        Console.Profile.Capabilities.Interactive && Rendering.Output.IsTerminal(Console)
            ? Console.Status().StartAsync(status, _ => work())
            : work();

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
