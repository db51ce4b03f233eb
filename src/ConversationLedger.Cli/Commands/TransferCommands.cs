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
        var total = (await session.RequireThreadAsync(settings.Thread, cancellationToken)).LastSequence;
        // Counts the entries read for the document, so a cancelled export can say how far it got.
        var store = new ReadCounter(session.Store);
        if (settings.Output is null)
        {
            using var buffer = new MemoryStream();
            try
            {
                await ThreadTransfer.ExportAsync(store, key, buffer, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return Cancelled($"cancelled after {store.Entries:N0} of {total:N0} entries; nothing was written");
            }
            // Through the console's writer, so the document goes where all other output goes.
            var writer = Console.Profile.Out.Writer;
            await writer.WriteLineAsync(System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
            await writer.FlushAsync(cancellationToken);
            return 0;
        }
        var output = Path.GetFullPath(settings.Output);
        if (Directory.Exists(output))
        {
            throw new LedgerException($"{output} is a folder; -o names the file to write");
        }
        if (File.Exists(output) && !settings.Force)
        {
            throw new LedgerException($"{output} exists; --force overwrites it");
        }
        // Written beside the target under a name of its own and moved into place, so a failed or cancelled export never
        // leaves half a file. Messages name the target only: the temporary name means nothing to the user.
        var partial = Path.Combine(Path.GetDirectoryName(output)!, $".{Path.GetFileName(output)}.{Guid.NewGuid():N}.partial");
        try
        {
            await using (var file = new FileStream(partial, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                await ThreadTransfer.ExportAsync(store, key, file, cancellationToken);
            }
            File.Move(partial, output, overwrite: settings.Force);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return Cancelled($"cancelled after {store.Entries:N0} of {total:N0} entries; the partial file was removed ({output} was not written)");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"cannot write {output}: {Reason(ex, partial, output, settings.Force)}", ex);
        }
        finally
        {
            // File.Delete throws when the folder does not exist; that error is reported above.
            if (File.Exists(partial))
            {
                File.Delete(partial);
            }
        }
        Console.MarkupLine($"[green]exported[/] {Markup.Escape(key.ToString())} ({total:N0} entries) to {Markup.Escape(output)}");
        return 0;
    }

    // What went wrong, in words about the target: .NET's messages name the path they failed on (the temporary one).
    private static string Reason(Exception ex, string partial, string output, bool force) => ex switch
    {
        UnauthorizedAccessException => "permission denied",
        DirectoryNotFoundException => "its folder does not exist",
        IOException when !force && File.Exists(output) => "it was created meanwhile; --force overwrites it",
        _ => ex.Message.Replace(partial, output, StringComparison.Ordinal),
    };

    private int Cancelled(string what)
    {
        Services.Errors.MarkupLine($"[yellow]{Markup.Escape(what)}[/]");
        return CommandGuard.CancelledExitCode;
    }

    /// <summary>A store that counts the entries <see cref="IConversationStore.ReadEntriesAsync"/> returned.</summary>
    private sealed class ReadCounter(IConversationStore inner) : IConversationStore
    {
        private long _entries;

        public long Entries => Interlocked.Read(ref _entries);

        public async Task<IReadOnlyList<LedgerEntry>> ReadEntriesAsync(ThreadKey key, long afterSequence, int limit, CancellationToken cancellationToken = default)
        {
            var page = await inner.ReadEntriesAsync(key, afterSequence, limit, cancellationToken);
            Interlocked.Add(ref _entries, page.Count);
            return page;
        }

        public Task<ThreadHead> GetHeadAsync(ThreadKey key, CancellationToken cancellationToken = default) => inner.GetHeadAsync(key, cancellationToken);

        public Task<AppendResult> AppendAsync(ThreadKey key, long expectedSequence, IReadOnlyList<LedgerEntry> entries, CancellationToken cancellationToken = default) =>
            inner.AppendAsync(key, expectedSequence, entries, cancellationToken);

        public Task<ThreadWindow> ReadWindowAsync(ThreadKey key, WindowSpec window, CancellationToken cancellationToken = default) =>
            inner.ReadWindowAsync(key, window, cancellationToken);

        public Task<ThreadPage> ListThreadsAsync(string tenant, string? scope, PageRequest page, CancellationToken cancellationToken = default) =>
            inner.ListThreadsAsync(tenant, scope, page, cancellationToken);

        public Task<ThreadHead> ForkAsync(ThreadKey source, long atSequence, ThreadKey target, CancellationToken cancellationToken = default) =>
            inner.ForkAsync(source, atSequence, target, cancellationToken);

        public Task<bool> DeleteThreadAsync(ThreadKey key, CancellationToken cancellationToken = default) => inner.DeleteThreadAsync(key, cancellationToken);

        public Task<int> DeleteTenantAsync(string tenant, CancellationToken cancellationToken = default) => inner.DeleteTenantAsync(tenant, cancellationToken);

        public Task<bool> TryAcquireTurnLeaseAsync(ThreadKey key, string holder, TimeSpan duration, CancellationToken cancellationToken = default) =>
            inner.TryAcquireTurnLeaseAsync(key, holder, duration, cancellationToken);

        public Task<bool> ReleaseTurnLeaseAsync(ThreadKey key, string holder, CancellationToken cancellationToken = default) =>
            inner.ReleaseTurnLeaseAsync(key, holder, cancellationToken);
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
