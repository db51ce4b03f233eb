using System.ComponentModel;
using ConversationLedger.Cli.Hosting;
using ConversationLedger.Cli.Rendering;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ConversationLedger.Cli.Commands;

/// <summary>The base of commands on one existing thread: checks the thread id.</summary>
public abstract class ThreadCommand<TSettings>(CliServices services) : LedgerCommand<TSettings>(services)
    where TSettings : ThreadSettings
{
    /// <inheritdoc />
    protected override ValidationResult ValidateMore(TSettings settings) =>
        CheckId(settings?.Thread, "thread") ?? ValidationResult.Success();
}

/// <summary><c>ledger threads</c>.</summary>
[Description("List the threads, newest activity first")]
public sealed class ThreadsCommand(CliServices services) : LedgerCommand<ThreadsSettings>(services)
{
    /// <inheritdoc />
    protected override bool Paged => true;

    /// <inheritdoc />
    protected override StoreAccess Access => StoreAccess.ReadOnly;

    /// <inheritdoc />
    protected override ValidationResult ValidateMore(ThreadsSettings settings) =>
        settings.Limit is > 0 and <= PageRequest.MaxLimit ? ValidationResult.Success() : ValidationResult.Error($"--limit must be 1–{PageRequest.MaxLimit}");

    /// <inheritdoc />
    protected override async Task<int> RunAsync(ThreadsSettings settings, CancellationToken cancellationToken)
    {
        await using var session = await OpenAsync(settings, withModel: false, cancellationToken);
        var page = await session.Store.ListThreadsAsync(session.Tenant, settings.Scope, new PageRequest(Limit: settings.Limit), cancellationToken);
        if (settings.Json)
        {
            JsonViews.WriteThreads(Console, page.Threads, more: page.NextCursor is not null);
            return 0;
        }
        ThreadViews.WriteThreads(Console, page.Threads);
        if (page.NextCursor is not null)
        {
            Console.MarkupLine($"[dim]more threads exist; --limit shows more[/]");
        }
        return 0;
    }
}

/// <summary><c>ledger show THREAD</c>.</summary>
[Description("Show a thread's conversation (checked against the alternation rules)")]
public sealed class ShowCommand(CliServices services) : ThreadCommand<ShowSettings>(services)
{
    /// <inheritdoc />
    protected override bool Paged => true;

    /// <inheritdoc />
    protected override StoreAccess Access => StoreAccess.ReadOnly;

    /// <inheritdoc />
    protected override ValidationResult ValidateMore(ShowSettings settings) =>
        settings.Last is <= 0 ? ValidationResult.Error($"--last {settings.Last}: give how many, 1 or more") : base.ValidateMore(settings);

    /// <inheritdoc />
    protected override async Task<int> RunAsync(ShowSettings settings, CancellationToken cancellationToken)
    {
        await using var session = await OpenAsync(settings, withModel: false, cancellationToken);
        // What has been written when Ctrl+C comes, and of how many.
        var (shown, of, what) = (0, 0, "messages");
        try
        {
            var conversation = await session.OpenExistingAsync(settings.Thread, cancellationToken);
            // Loading validates: a damaged thread is reported, not shown as if it were fine.
            var view = await conversation.LoadAsync(cancellationToken);
            if (settings.All)
            {
                what = "entries";
                var entries = new List<LedgerEntry>();
                if (settings.Last is { } last)
                {
                    // The newest entries only: read from there, not the whole thread.
                    entries.AddRange(await session.Store.ReadEntriesAsync(conversation.Key, Math.Max(0, view.Head.LastSequence - last), last, cancellationToken));
                }
                else
                {
                    await foreach (var entry in session.Store.ReadAllAsync(conversation.Key, cancellationToken: cancellationToken))
                    {
                        entries.Add(entry);
                    }
                }
                if (settings.Json)
                {
                    JsonViews.WriteEntries(Console, conversation.Key, entries);
                    return 0;
                }
                if (entries.Count > 0 && entries[0].Sequence > 1)
                {
                    Console.MarkupLine($"[dim]… {entries[0].Sequence - 1} earlier entries (without --last: all of them)[/]");
                }
                of = entries.Count;
                ThreadViews.WriteEntries(Console, entries, rows => shown = rows, cancellationToken);
            }
            else if (settings.Json)
            {
                JsonViews.WriteConversation(Console, view, settings.Last);
                return 0;
            }
            else
            {
                var messages = ThreadViews.WriteConversationHeader(Console, view, settings.Last);
                of = messages.Count;
                foreach (var message in messages)
                {
                    // A long thread takes a while to draw: Ctrl+C stops it between messages.
                    cancellationToken.ThrowIfCancellationRequested();
                    ThreadViews.WriteMessage(Console, message);
                    shown++;
                }
            }
            Console.MarkupLine($"[green]valid:[/] [dim]{view.Messages.Count} messages alternate user/assistant[/]");
            return 0;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Services.Errors.MarkupLine(of == 0
                ? "[yellow]cancelled before anything was shown[/]"
                : $"[yellow]cancelled after showing {shown:N0} of {of:N0} {what}[/]");
            return CommandGuard.CancelledExitCode;
        }
    }
}

/// <summary><c>ledger inspect THREAD</c>.</summary>
[Description("Show the next request: its JSON body, tokens per part and a cost estimate")]
public sealed class InspectCommand(CliServices services) : ThreadCommand<InspectSettings>(services)
{
    /// <inheritdoc />
    protected override bool Paged => true;

    /// <inheritdoc />
    protected override StoreAccess Access => StoreAccess.ReadOnly;

    /// <inheritdoc />
    protected override ValidationResult ValidateMore(InspectSettings settings) =>
        settings.Raw && settings.Json ? ValidationResult.Error("--raw prints the body alone and --json the whole preview: give one of them") : base.ValidateMore(settings);

    /// <inheritdoc />
    protected override async Task<int> RunAsync(InspectSettings settings, CancellationToken cancellationToken)
    {
        await using var session = await OpenAsync(settings, withModel: false, cancellationToken);
        var conversation = await session.OpenExistingAsync(settings.Thread, cancellationToken);
        if (settings.Json)
        {
            await JsonViews.WriteInspectAsync(Console, conversation, session.Ledger, null, settings.Message, cancellationToken);
        }
        else
        {
            await ThreadViews.WriteInspectAsync(Console, conversation, session.Ledger, null, settings.Message, settings.Raw, cancellationToken);
        }
        return 0;
    }
}

/// <summary><c>ledger usage [THREAD]</c>.</summary>
[Description("Tokens and cost of every model call (turns, and summaries labelled summary), with bar charts of prompt tokens and of cost")]
public sealed class UsageCommand(CliServices services) : LedgerCommand<UsageSettings>(services)
{
    /// <inheritdoc />
    protected override bool Paged => true;

    /// <inheritdoc />
    protected override StoreAccess Access => StoreAccess.ReadOnly;

    /// <inheritdoc />
    protected override ValidationResult ValidateMore(UsageSettings settings) =>
        settings.All && settings.Thread is not null ? ValidationResult.Error($"give a thread ({settings.Thread}) or --all, not both")
        : settings.By is not (null or "day") ? ValidationResult.Error($"--by {settings.By}: say day")
        : settings.Thread is null ? ValidationResult.Success()
        : CheckId(settings.Thread, "thread") ?? ValidationResult.Success();

    /// <inheritdoc />
    protected override async Task<int> RunAsync(UsageSettings settings, CancellationToken cancellationToken)
    {
        await using var session = await OpenAsync(settings, withModel: false, cancellationToken);
        var reports = new List<UsageReport>();
        if (settings.All)
        {
            await foreach (var head in ThreadViews.ListAllAsync(session.Store, session.Tenant, session.Scope, cancellationToken))
            {
                reports.Add(await UsageReport.ReadAsync(session.Store, head.Key, cancellationToken));
            }
        }
        else
        {
            var thread = settings.Thread ?? CliDefaults.Thread;
            await session.RequireThreadAsync(thread, cancellationToken);
            reports.Add(await UsageReport.ReadAsync(session.Store, session.Key(thread), cancellationToken));
        }
        var byDay = settings.By == "day";
        if (settings.Json)
        {
            if (settings.All || byDay)
            {
                JsonViews.WriteUsageSummary(Console, session.Scope, reports, byDay);
            }
            else
            {
                JsonViews.WriteUsage(Console, reports[0], session.Ledger.Models);
            }
        }
        else if (settings.All || byDay)
        {
            ThreadViews.WriteUsageSummary(Console, session.Scope, reports, byDay);
        }
        else
        {
            ThreadViews.WriteUsage(Console, reports[0], session.Ledger.Models);
        }
        return 0;
    }
}

/// <summary><c>ledger reset THREAD</c>.</summary>
[Description("Start a thread afresh; its earlier entries stay readable in the archive")]
public sealed class ResetCommand(CliServices services) : ThreadCommand<ThreadSettings>(services)
{
    /// <inheritdoc />
    protected override async Task<int> RunAsync(ThreadSettings settings, CancellationToken cancellationToken)
    {
        await using var session = await OpenAsync(settings, withModel: false, cancellationToken);
        await (await session.OpenExistingAsync(settings.Thread, cancellationToken)).ResetAsync("ledger reset", cancellationToken);
        Console.MarkupLine($"[green]reset[/] {Markup.Escape(session.Key(settings.Thread).ToString())}: the next request starts afresh");
        return 0;
    }
}

/// <summary><c>ledger fork THREAD [--at N]</c>.</summary>
[Description("Copy a thread (up to entry N) into a new thread")]
public sealed class ForkCommand(CliServices services) : ThreadCommand<ForkSettings>(services)
{
    /// <inheritdoc />
    protected override ValidationResult ValidateMore(ForkSettings settings)
    {
        var baseResult = base.ValidateMore(settings);
        if (!baseResult.Successful)
        {
            return baseResult;
        }
        if (settings.At is not null && settings.AtEntry is null)
        {
            return ValidationResult.Error($"--at {settings.At}: give an entry number, 1 or more (ledger show lists them)");
        }
        return settings.To is null ? ValidationResult.Success() : CheckId(settings.To, "--to thread") ?? ValidationResult.Success();
    }

    /// <inheritdoc />
    protected override async Task<int> RunAsync(ForkSettings settings, CancellationToken cancellationToken)
    {
        await using var session = await OpenAsync(settings, withModel: false, cancellationToken);
        var source = await session.OpenExistingAsync(settings.Thread, cancellationToken);
        var target = session.Key(settings.To ?? Chat.ChatSession.ForkName(settings.Thread));
        try
        {
            await source.ForkAsync(target, settings.AtEntry, cancellationToken);
        }
        catch (ConcurrencyConflictException)
        {
            // The store refuses a fork into a thread that has entries.
            throw new LedgerException($"thread {target.ThreadId} already exists; fork into another id (--to)");
        }
        Console.MarkupLine($"[green]forked[/] into {Markup.Escape(target.ThreadId)}");
        // The new id alone on the last line, for scripts.
        Console.WriteLine(target.ThreadId);
        return 0;
    }
}

/// <summary><c>ledger delete THREAD</c>.</summary>
[Description("Erase a thread and all its entries (the one real delete); asks first on a terminal")]
public sealed class DeleteCommand(CliServices services) : ThreadCommand<DeleteSettings>(services)
{
    /// <inheritdoc />
    protected override ValidationResult ValidateMore(DeleteSettings settings)
    {
        var baseResult = base.ValidateMore(settings);
        // Without a terminal nobody can answer: a script must say it means it.
        return baseResult.Successful && !settings.Yes && !Services.InputIsTerminal
            ? ValidationResult.Error($"delete erases thread {settings.Thread} for good and standard input is not a terminal to ask on: add --yes to confirm")
            : baseResult;
    }

    /// <inheritdoc />
    protected override async Task<int> RunAsync(DeleteSettings settings, CancellationToken cancellationToken)
    {
        await using var session = await OpenAsync(settings, withModel: false, cancellationToken);
        var key = session.Key(settings.Thread);
        var head = await session.RequireThreadAsync(settings.Thread, cancellationToken);
        if (!settings.Yes)
        {
            Console.Markup($"delete {Markup.Escape(key.ToString())} ({head.LastSequence:N0} entries, {head.RunningMessages:N0} messages, last active "
                + $"{head.UpdatedAt.ToLocalTime():yyyy-MM-dd HH:mm})? It cannot be undone. [[y/N]] ");
            var answer = await Services.Input.ReadLineAsync(cancellationToken).AsTask().WaitAsync(cancellationToken);
            if (answer?.Trim().ToLowerInvariant() is not ("y" or "yes"))
            {
                Console.MarkupLine("[yellow]not deleted[/]");
                return 1;
            }
        }
        if (!await session.Store.DeleteThreadAsync(key, cancellationToken))
        {
            throw new LedgerNotFoundException($"thread {key} does not exist (ledger threads lists them)");
        }
        // What the chat kept beside the ledger (input history holds what was typed) goes with it.
        Chat.ThreadFiles.For(CliDefaults.Store(settings.Store, Services.Environment), Services.Environment, key).Delete();
        Console.MarkupLine($"[green]deleted[/] {Markup.Escape(key.ToString())}");
        return 0;
    }
}
