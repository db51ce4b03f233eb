namespace ConversationLedger;

// Summaries: folding what left the window into a running summary, piece by piece.
public sealed partial class Conversation
{
    // Has the model summarize what left the window, stores it, and selects again. A failed summary stores nothing more
    // (pieces written before the failure stay) and the turn goes ahead with what there is; the thread's next attempts
    // back off (1, 2, 4 … 32 turns of this process), so a summary that keeps failing is not paid for on every turn.
    private async Task<(ConversationView View, HistorySelection Selection, string? Error)> FoldSummaryAsync(
        ConversationView view, HistorySelection selection, (long FromSequence, long ThroughSequence) due, TurnSettings settings,
        IReadOnlyList<LedgerMessage> withdrawn, CancellationToken cancellationToken)
    {
        if (!_ledger.SummaryBackoff.ShouldTry(Key))
        {
            return (view, selection, null);
        }
        try
        {
            var wrote = await SummarizeAsync(view, due.FromSequence, due.ThroughSequence, settings.Model, cancellationToken);
            _ledger.SummaryBackoff.Succeeded(Key);
            if (wrote)
            {
                var (newView, newSelection) = await SelectAsync(settings.Policy, withdrawn, cancellationToken);
                return (newView, newSelection, null);
            }
            return (view, selection, null);
        }
        catch (LedgerException ex) when (ex is ModelCallException or ConcurrencyConflictException)
        {
            var skipped = _ledger.SummaryBackoff.Failed(Key);
            _ledger.Telemetry.SummaryFailed(Key, ex);
            var (newView, newSelection) = await SelectAsync(settings.Policy, withdrawn, cancellationToken); // pieces stored before the failure count
            return (newView, newSelection, $"{ex.Message} (the next {skipped} turn{(skipped == 1 ? "" : "s")} will not try again)");
        }
    }

    // Writes the summary of entries from..through in pieces that each fit the summary model (at most SummaryPieceTokens
    // of dropped messages, with the running summary and instructions), folding each piece into the running summary and
    // storing it at once: a backlog of any length (an imported thread) is summarized without a request over the window,
    // and a failure keeps the pieces already paid for.
    private async Task<bool> SummarizeAsync(ConversationView view, long from, long through, string turnModel, CancellationToken cancellationToken)
    {
        var model = Options.SummaryModel ?? turnModel;
        var info = _ledger.Models.Get(model);
        var window = info.ContextWindow;
        // Never more than the summary model may write: above its MaxOutput the API refuses the request outright.
        var maxTokens = (int)Math.Min(Options.SummaryMaxTokens, info.MaxOutput);
        // A summary needs no deliberation: thinking off where the model allows it (up-front thinking otherwise), least effort.
        var (thinking, outputConfig) = ThinkingOptions.ForModel(
            info.TakesThinking("disabled") ? ThinkingOptions.Off : info.TakesThinking("between_tools") ? new ThinkingOptions { Mode = ThinkingMode.BetweenTools } : null,
            info.EffortLevels.Contains("low") ? "low" : null, info, maxTokens);
        var budget = Math.Min(SummaryPieceTokens, (long)((window - maxTokens - Options.SafetyMarginTokens) / _ledger.Calibration.FactorFor(model)));
        var head = view.Head.LastSequence;
        var summary = view.Summary;
        var piece = new List<Message>();
        long pieceTokens = 0, pieceThrough = 0;
        var wrote = false;

        // The instructions and the running summary go with every piece; counted once per piece, not once per message.
        var counter = _ledger.TokenCounter;
        long Overhead() => counter.CountText(HistorySummarizer.Instructions) + (summary is null ? 0 : counter.CountText(summary.Text)) + 64;
        var overhead = Overhead();

        async Task FoldAsync()
        {
            var request = HistorySummarizer.BuildRequest(model, maxTokens, summary?.Text, piece) with { Thinking = thinking, OutputConfig = outputConfig };
            var response = await _ledger.Model.SendAsync(request, cancellationToken);
            var text = response.Message.Text.Trim();
            if (text.Length == 0)
            {
                await RecordUncommittedAsync(response, "summary failed");
                throw new ModelCallException("the summary came back empty", requestId: response.RequestId);
            }
            var turnId = Guid.CreateVersion7().ToString("N");
            var usage = response.Usage;
            var entry = new SummaryEntry(text, summary?.FromSequence ?? from, pieceThrough, response.Model, usage.TotalInputTokens, usage.OutputTokens) { TurnId = turnId };
            LedgerEntry[] entries =
            [
                entry,
                new UsageEntry(new UsageRecord(response.Model, usage, _ledger.Models.Cost(response.Model, usage), response.RequestId, response.StopReason)) { TurnId = turnId },
            ];
            try
            {
                head = (await AppendAsync(head, entries, cancellationToken)).Head.LastSequence;
            }
            catch (ConcurrencyConflictException)
            {
                await RecordUncommittedAsync(response, "summary failed");
                throw;
            }
            _ledger.Telemetry.SummaryWritten(Key, response.Model, entry.FromSequence, entry.ThroughSequence, usage);
            summary = entry;
            overhead = Overhead();
            piece.Clear();
            pieceTokens = 0;
            wrote = true;
        }

        // Edits and retractions of the range are stored after it (up to the head): a withdrawn turn is never summarized,
        // an edited message is summarized as edited.
        var edits = new Dictionary<long, EditEntry>();
        await foreach (var edit in Store.ReadAllAsync(Key, from - 1, head, cancellationToken))
        {
            if (edit is EditEntry { Target: var target } e && target >= from && target <= through)
            {
                edits[target] = e;
            }
        }

        await foreach (var entry in Store.ReadAllAsync(Key, from - 1, through, cancellationToken))
        {
            if (entry is not MessageEntry message || edits.GetValueOrDefault(entry.Sequence) is { Retracted: true })
            {
                continue;
            }
            var clipped = HistorySummarizer.Clip(edits.GetValueOrDefault(entry.Sequence)?.Replacement ?? message.Message, budget - overhead, counter, out var tokens);
            if (piece.Count > 0 && overhead + pieceTokens + tokens > budget)
            {
                await FoldAsync();
            }
            piece.Add(clipped);
            pieceTokens += tokens;
            pieceThrough = entry.Sequence;
        }
        if (piece.Count > 0)
        {
            pieceThrough = through; // the last piece covers the whole range, the events among its messages included
            await FoldAsync();
        }
        return wrote;
    }

    /// <summary>The most tokens of dropped messages one summary request carries; a longer backlog is summarized in pieces.</summary>
    internal const long SummaryPieceTokens = 100_000;
}
