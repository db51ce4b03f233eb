using System.ComponentModel;
using ConversationLedger.Cli.Commands;
using ConversationLedger.Cli.Hosting;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ConversationLedger.Cli.Commands.Transfer;

/// <summary><c>ledger export THREAD [-o FILE]</c>.</summary>
[Description("Write a thread (archive included) as one JSON document")]
public sealed class ExportCommand(CliServices services) : ThreadCommand<ExportCommand.Settings>(services)
{
    /// <summary>Options of <c>ledger export</c>.</summary>
    public sealed class Settings : ThreadSettings
    {
        /// <summary>The file to write (default: standard output).</summary>
        [CommandOption("-o|--output <FILE>")]
        [Description("The file to write (default: standard output)")]
        public string? Output { get; set; }

        /// <summary>Whether an existing file may be overwritten.</summary>
        [CommandOption("--force")]
        [Description("Overwrite the file when it exists")]
        public bool Force { get; set; }
    }

    /// <inheritdoc />
    protected override StoreAccess Access => StoreAccess.ReadOnly;

    /// <inheritdoc />
    protected override async Task<int> RunAsync(Settings settings, CancellationToken cancellationToken)
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
