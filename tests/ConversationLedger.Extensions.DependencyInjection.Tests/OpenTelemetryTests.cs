using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace ConversationLedger.Extensions.DependencyInjection.Tests;

/// <summary>The ledger's spans and metrics as the OpenTelemetry SDK collects them with AddSource / AddMeter("ConversationLedger").</summary>
public sealed class OpenTelemetryTests
{
    [Fact]
    public async Task The_OpenTelemetry_SDK_collects_the_turn_span_and_the_GenAI_metrics_by_name()
    {
        var key = new ThreadKey("acme", "otel", Guid.NewGuid().ToString("N"));
        var spans = new List<Activity>();
        var metrics = new List<Metric>();
        using var tracing = Sdk.CreateTracerProviderBuilder()
            .AddSource(LedgerDiagnostics.Name)
            .AddInMemoryExporter(spans)
            .Build();
        using var metering = Sdk.CreateMeterProviderBuilder()
            .AddMeter(LedgerDiagnostics.Name)
            .AddInMemoryExporter(metrics)
            .Build();
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddConversationLedger(o => o.MaxTokens = 300).UseInMemory().UseEmulator();
        using var host = builder.Build();
        await host.StartAsync();

        var turn = await host.Services.GetRequiredService<Ledger>().Open(key).SendAsync("hello");
        tracing.ForceFlush();
        metering.ForceFlush();

        var span = Assert.Single(spans, s => Equals(s.GetTagItem("gen_ai.conversation.id"), key.ToString()));
        Assert.Equal(turn.Usage.OutputTokens, span.GetTagItem("gen_ai.usage.output_tokens"));
        var tokens = Assert.Single(metrics, m => m.Name == LedgerDiagnostics.TokenUsage);
        Assert.Equal("{token}", tokens.Unit);
        Assert.Equal(MetricType.Histogram, tokens.MetricType);
        long sum = 0;
        foreach (ref readonly var point in tokens.GetMetricPoints())
        {
            foreach (var tag in point.Tags)
            {
                if (tag.Key == "gen_ai.token.type" && Equals(tag.Value, "output"))
                {
                    sum += (long)point.GetHistogramSum();
                }
            }
        }
        Assert.True(sum >= turn.Usage.OutputTokens);
        Assert.Contains(metrics, m => m.Name == LedgerDiagnostics.OperationDuration && m.Unit == "s");
        await host.StopAsync();
    }
}
