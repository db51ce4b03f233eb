using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using ConversationLedger.Emulator;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ConversationLedger.Extensions.DependencyInjection.Tests;

/// <summary>
/// The ledger's logs, spans and metrics from a host's container, against the in-process emulator: what each turn reports,
/// and that message text and the API key stay out of the logs.
/// </summary>
public sealed class DiagnosticsTests
{
    private const string ApiKey = "sk-ant-secret-diagnostics-7f3a";
    private const string Secret = "periwinkle-armadillo";
    private readonly ThreadKey _key = new("acme", "diagnostics", Guid.NewGuid().ToString("N"));

    private static async Task<IHost> StartAsync(CapturingLoggerProvider? logs = null, Action<LedgerOptions>? configure = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        if (logs is not null)
        {
            builder.Logging.AddProvider(logs);
        }
        builder.Services.AddConversationLedger(o =>
            {
                o.MaxTokens = 300;
                configure?.Invoke(o);
            })
            .UseInMemory()
            .UseEmulator(new EmulatorOptions { ApiKey = ApiKey });
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }

    [Fact]
    public async Task Each_stored_turn_logs_one_line_with_its_figures_and_no_message_text_or_key()
    {
        var logs = new CapturingLoggerProvider();
        using var host = await StartAsync(logs);
        var chat = host.Services.GetRequiredService<Ledger>().Open(_key);

        await chat.SendAsync($"The code word is {Secret}.");
        var turn = await chat.SendAsync("What is the code word?");

        var lines = logs.Entries.Where(e => e.EventId.Id == LedgerDiagnostics.TurnCommittedEventId).ToList();
        Assert.Equal(2, lines.Count);
        var fields = lines[^1].State.ToDictionary(p => p.Key, p => p.Value);
        Assert.Equal(_key.ToString(), fields["Thread"]);
        Assert.Equal(turn.UsageEntry.Record.Model, fields["Model"]);
        Assert.Equal(turn.Usage.TotalInputTokens, fields["InputTokens"]);
        Assert.Equal(turn.Usage.OutputTokens, fields["OutputTokens"]);
        Assert.Equal(turn.CostUsd, fields["CostUsd"]);
        Assert.Equal(0, fields["Omissions"]);
        Assert.Equal(0L, fields["OmittedMessages"]);
        Assert.InRange((double)fields["CacheHitRatio"]!, 0, 1);
        Assert.True((long)fields["DurationMs"]! >= 0);
        Assert.Equal(LogLevel.Information, lines[^1].Level);
        foreach (var entry in logs.Entries)
        {
            var everything = entry.Message + string.Join("|", entry.State.Select(p => p.Value));
            Assert.DoesNotContain(Secret, everything, StringComparison.Ordinal);
            Assert.DoesNotContain(ApiKey, everything, StringComparison.Ordinal);
            Assert.DoesNotContain(turn.ReplyText, everything, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_lost_race_logs_a_conflict_and_counts_it()
    {
        var logs = new CapturingLoggerProvider();
        using var host = await StartAsync(logs);
        using var metrics = new MetricCapture(host.Services.GetRequiredService<IMeterFactory>());
        var chat = host.Services.GetRequiredService<Ledger>().Open(_key);
        var turn = await chat.BeginTurnAsync(Message.User("one"));
        // A writer that takes no turn lease (an edit, a reset) commits while the turn is in flight.
        var store = host.Services.GetRequiredService<Ledger>().Store;
        await store.AppendAsync(_key, (await store.GetHeadAsync(_key)).LastSequence, [new ResetEntry("another writer")]);
        var reply = new ModelResponse("msg_1", "claude-sonnet-5-5", Message.Assistant("ok"), "end_turn", new TokenUsage { InputTokens = 3, OutputTokens = 1 }, null);

        await Assert.ThrowsAsync<ConcurrencyConflictException>(() => turn.CommitAsync(reply));

        var conflict = Assert.Single(logs.Entries, e => e.EventId.Id == LedgerDiagnostics.ConflictEventId);
        Assert.Equal(LogLevel.Warning, conflict.Level);
        Assert.Equal(_key.ToString(), conflict.State.Single(p => p.Key == "Thread").Value);
        Assert.Equal(1, metrics.Sum(LedgerDiagnostics.Conflicts));
    }

    [Fact]
    public async Task A_turn_records_the_GenAI_metrics_with_the_emulator_usage()
    {
        using var host = await StartAsync();
        using var metrics = new MetricCapture(host.Services.GetRequiredService<IMeterFactory>());

        var turn = await host.Services.GetRequiredService<Ledger>().Open(_key).SendAsync("hello");

        var usage = turn.Usage;
        Assert.True(usage.TotalInputTokens > 0 && usage.OutputTokens > 0);
        var tokens = metrics.Of(LedgerDiagnostics.TokenUsage);
        Assert.All(tokens, m => Assert.Equal("{token}", m.Unit));
        Assert.Equal(usage.TotalInputTokens, Assert.Single(tokens, m => Equals(m.Tags["gen_ai.token.type"], "input")).Value);
        Assert.Equal(usage.OutputTokens, Assert.Single(tokens, m => Equals(m.Tags["gen_ai.token.type"], "output")).Value);
        Assert.All(tokens, m =>
        {
            Assert.Equal("chat", m.Tags["gen_ai.operation.name"]);
            Assert.Equal("anthropic", m.Tags["gen_ai.provider.name"]);
            Assert.Equal(turn.Request.Request.Model, m.Tags["gen_ai.request.model"]);
            Assert.Equal(turn.UsageEntry.Record.Model, m.Tags["gen_ai.response.model"]);
        });
        var duration = Assert.Single(metrics.Of(LedgerDiagnostics.OperationDuration));
        Assert.Equal("s", duration.Unit);
        Assert.InRange(duration.Value, 0.0, 60.0);
        Assert.Equal(turn.ContextFill, Assert.Single(metrics.Of(LedgerDiagnostics.ContextFill)).Value, 6);
        Assert.Equal((double)usage.CacheReadInputTokens / usage.TotalInputTokens, Assert.Single(metrics.Of(LedgerDiagnostics.CacheReadRatio)).Value, 6);
        Assert.Equal(0, metrics.Sum(LedgerDiagnostics.TokensSaved));
        Assert.Contains(metrics.Of(LedgerDiagnostics.StoreDuration), m => Equals(m.Tags["conversation_ledger.store.operation"], "append"));
        Assert.Contains(metrics.Of(LedgerDiagnostics.StoreDuration), m => Equals(m.Tags["conversation_ledger.store.operation"], "lease_and_read_window"));
    }

    [Fact]
    public async Task A_windowed_turn_counts_the_tokens_its_policy_left_out()
    {
        using var host = await StartAsync(configure: o =>
        {
            o.Policy = "window:2/2";
            o.PinFirstExchange = false;
        });
        var chat = host.Services.GetRequiredService<Ledger>().Open(_key);
        foreach (var text in new[] { "one", "two", "three" })
        {
            await chat.SendAsync(text);
        }
        using var metrics = new MetricCapture(host.Services.GetRequiredService<IMeterFactory>());

        var turn = await chat.SendAsync("four");

        Assert.NotEmpty(turn.Request.Selection.Omitted);
        Assert.True(metrics.Sum(LedgerDiagnostics.TokensSaved) > 0);
    }

    [Fact]
    public async Task A_turn_is_one_GenAI_client_span_without_message_text_unless_asked()
    {
        using var spans = new SpanCapture();
        using var host = await StartAsync();

        var turn = await host.Services.GetRequiredService<Ledger>().Open(_key).SendAsync($"The code word is {Secret}.");

        var span = Assert.Single(spans.For(_key));
        Assert.Equal($"chat {turn.Request.Request.Model}", span.DisplayName);
        Assert.Equal(ActivityKind.Client, span.Kind);
        Assert.Equal("chat", span.GetTagItem("gen_ai.operation.name"));
        Assert.Equal("anthropic", span.GetTagItem("gen_ai.provider.name"));
        Assert.Equal(turn.Request.Request.Model, span.GetTagItem("gen_ai.request.model"));
        Assert.Equal(turn.UsageEntry.Record.Model, span.GetTagItem("gen_ai.response.model"));
        Assert.Equal(turn.Usage.TotalInputTokens, span.GetTagItem("gen_ai.usage.input_tokens"));
        Assert.Equal(turn.Usage.OutputTokens, span.GetTagItem("gen_ai.usage.output_tokens"));
        Assert.DoesNotContain(span.TagObjects, t => t.Value?.ToString()?.Contains(Secret, StringComparison.Ordinal) == true);
        Assert.Null(span.GetTagItem("gen_ai.input.messages"));
    }

    [Fact]
    public async Task With_sensitive_data_enabled_the_span_carries_the_messages()
    {
        using var spans = new SpanCapture();
        using var host = await StartAsync(configure: o => o.EnableSensitiveTelemetryData = true);

        var turn = await host.Services.GetRequiredService<Ledger>().Open(_key).SendAsync($"The code word is {Secret}.");

        var span = Assert.Single(spans.For(_key));
        Assert.Contains(Secret, (string)span.GetTagItem("gen_ai.input.messages")!, StringComparison.Ordinal);
        Assert.Contains("\"role\":\"user\"", (string)span.GetTagItem("gen_ai.input.messages")!, StringComparison.Ordinal);
        Assert.Contains("\"role\":\"assistant\"", (string)span.GetTagItem("gen_ai.output.messages")!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_turn_prepared_and_committed_by_an_adapter_gets_its_span_too()
    {
        using var spans = new SpanCapture();
        using var host = await StartAsync();
        var pending = await host.Services.GetRequiredService<Ledger>().Open(_key).BeginTurnAsync(Message.User("hi"));

        await pending.CommitAsync(new ModelResponse("msg_1", pending.Request.Model, Message.Assistant("hello"), "end_turn", new TokenUsage { InputTokens = 7, OutputTokens = 2 }, null));

        var span = Assert.Single(spans.For(_key));
        Assert.Equal(7L, span.GetTagItem("gen_ai.usage.input_tokens"));
        Assert.Equal(2L, span.GetTagItem("gen_ai.usage.output_tokens"));
    }

    [Fact]
    public async Task A_failed_call_logs_a_warning_and_records_its_error_type()
    {
        var logs = new CapturingLoggerProvider();
        using var spans = new SpanCapture();
        using var host = await StartAsync(logs);
        using var metrics = new MetricCapture(host.Services.GetRequiredService<IMeterFactory>());
        host.Services.GetRequiredService<EmulatorServer>().Faults.Enqueue("500");

        await Assert.ThrowsAnyAsync<LedgerException>(() => host.Services.GetRequiredService<Ledger>().Open(_key).SendAsync($"The code word is {Secret}."));

        var failed = Assert.Single(logs.Entries, e => e.EventId.Id == LedgerDiagnostics.TurnFailedEventId);
        Assert.Equal(LogLevel.Warning, failed.Level);
        Assert.DoesNotContain(Secret, failed.Message, StringComparison.Ordinal);
        Assert.Equal(ActivityStatusCode.Error, Assert.Single(spans.For(_key)).Status);
        Assert.NotNull(Assert.Single(metrics.Of(LedgerDiagnostics.OperationDuration)).Tags["error.type"]);
        Assert.Empty(metrics.Of(LedgerDiagnostics.TokenUsage));
    }

    private sealed record Captured(string Instrument, string? Unit, double Value, IReadOnlyDictionary<string, object?> Tags);

    /// <summary>The measurements of the meters one factory created (so parallel tests' ledgers do not mix in).</summary>
    private sealed class MetricCapture : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly ConcurrentQueue<Captured> _measurements = new();

        public MetricCapture(IMeterFactory factory)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == LedgerDiagnostics.Name && ReferenceEquals(instrument.Meter.Scope, factory))
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Add(i, v, tags));
            _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Add(i, v, tags));
            _listener.Start();
        }

        public IReadOnlyList<Captured> Of(string instrument) => _measurements.Where(m => m.Instrument == instrument).ToList();

        public double Sum(string instrument) => Of(instrument).Sum(m => m.Value);

        public void Dispose() => _listener.Dispose();

        private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags) =>
            _measurements.Enqueue(new Captured(instrument.Name, instrument.Unit, value, tags.ToArray().ToDictionary(t => t.Key, t => t.Value)));
    }

    /// <summary>The ledger's finished spans (filtered per test by thread, as the source is process-wide).</summary>
    private sealed class SpanCapture : IDisposable
    {
        private readonly ActivityListener _listener;
        private readonly ConcurrentQueue<Activity> _spans = new();

        public SpanCapture()
        {
            _listener = new ActivityListener
            {
                ShouldListenTo = source => source.Name == LedgerDiagnostics.Name,
                Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
                ActivityStopped = _spans.Enqueue,
            };
            ActivitySource.AddActivityListener(_listener);
        }

        public IReadOnlyList<Activity> For(ThreadKey key) =>
            _spans.Where(a => Equals(a.GetTagItem("gen_ai.conversation.id"), key.ToString())).ToList();

        public void Dispose() => _listener.Dispose();
    }

    private sealed record LogEntry(LogLevel Level, EventId EventId, string Message, IReadOnlyList<KeyValuePair<string, object?>> State);

    /// <summary>Keeps every log entry with its structured state.</summary>
    private sealed class CapturingLoggerProvider : ILoggerProvider, ILogger
    {
        private readonly ConcurrentQueue<LogEntry> _entries = new();

        public IReadOnlyList<LogEntry> Entries => _entries.ToList();

        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            _entries.Enqueue(new LogEntry(logLevel, eventId, formatter(state, exception),
                state as IReadOnlyList<KeyValuePair<string, object?>> ?? []));

        public void Dispose()
        {
        }
    }
}
