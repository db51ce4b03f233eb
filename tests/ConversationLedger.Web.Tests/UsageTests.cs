using System.Text.Json;
using ConversationLedger.Web.Tests.Support;

namespace ConversationLedger.Web.Tests;

/// <summary>The usage charts draw exactly what the API reports: per call for a thread, per day for the tenant.</summary>
[Collection(WebCollection.Name)]
public sealed class UsageTests(WebFixture fixture)
{
    // The chart's labels and its datasets' values, read from the Chart.js object the page drew.
    private const string ChartData = """
        selector => {
          const chart = Chart.getChart(document.querySelector(selector));
          return chart ? { labels: chart.data.labels, sets: chart.data.datasets.map(d => ({ label: d.label, data: d.data.map(Number) })) } : null;
        }
        """;

    [SkippableFact]
    public async Task The_thread_chart_has_one_point_per_call_with_the_APIs_tokens_and_cost()
    {
        fixture.Require();
        await using var web = await fixture.OpenAsync(fixture.AcmeKey);
        var page = web.Page;
        var id = "usage-" + Guid.NewGuid().ToString("N")[..8];
        // Long enough a system prompt to be cached: later calls read it from the cache.
        await web.Api.CreateThreadAsync("billing", id, system: string.Join(' ', Enumerable.Repeat("You answer billing questions precisely.", 300)));
        for (var i = 1; i <= 3; i++)
        {
            await web.Api.TurnAsync("billing", id, $"Invoice question {i}.");
        }
        await web.SignInAsync();
        await web.OpenThreadAsync("billing", id);
        await web.SendAsync("And one more from the page.");
        await web.WaitForTurnEndAsync();

        await page.GetByRole(AriaRole.Tab, new() { Name = "Usage" }).ClickAsync();
        await Expect(page.Locator("#thread-usage-table tbody tr")).ToHaveCountAsync(4);
        var usage = await web.Api.GetAsync(ApiClient.Path("billing", id) + "/usage");
        var calls = usage.GetProperty("calls").EnumerateArray().ToArray();
        Assert.Equal(4, calls.Length);
        var chart = await page.EvaluateAsync<JsonElement>(ChartData, "#thread-usage-chart");
        Assert.Equal(calls.Length, chart.GetProperty("labels").GetArrayLength());
        var sets = chart.GetProperty("sets").EnumerateArray().ToDictionary(s => s.GetProperty("label").GetString()!, s => s.GetProperty("data").EnumerateArray().Select(v => v.GetDouble()).ToArray());
        Assert.Equal(calls.Select(c => (double)c.GetProperty("cache_read_input_tokens").GetInt64()), sets["Cache reads"]);
        Assert.Equal(calls.Select(c => (double)c.GetProperty("cache_creation_input_tokens").GetInt64()), sets["Cache writes"]);
        Assert.Equal(calls.Select(c => (double)c.GetProperty("input_tokens").GetInt64()), sets["Uncached input"]);
        Assert.Equal(calls.Select(c => (double)c.GetProperty("output_tokens").GetInt64()), sets["Output"]);
        Assert.Equal(calls.Select(c => (double)c.GetProperty("cost_usd").GetDecimal()), sets["Cost (USD)"]);
        Assert.Contains(sets["Cache reads"], v => v > 0);
        Assert.Contains(sets["Cache writes"], v => v > 0);

        var totals = usage.GetProperty("totals");
        await Expect(page.Locator("#thread-usage-summary")).ToContainTextAsync($"Calls {totals.GetProperty("calls").GetInt64()}");
        await Expect(page.Locator("#thread-usage-table tfoot")).ToContainTextAsync($"{totals.GetProperty("output_tokens").GetInt64():N0}");
    }

    [SkippableFact]
    public async Task The_tenant_chart_has_a_point_per_day_with_the_APIs_totals()
    {
        fixture.Require();
        await using var web = await fixture.OpenAsync(fixture.AcmeKey);
        var page = web.Page;
        var id = "daily-" + Guid.NewGuid().ToString("N")[..8];
        await web.Api.CreateThreadAsync("billing", id);
        await web.Api.TurnAsync("billing", id, "Count this call.");
        await web.SignInAsync();

        await page.GetByRole(AriaRole.Link, new() { Name = "Usage" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Usage of the tenant" })).ToBeVisibleAsync();
        await Expect(page.Locator("#tenant-usage-table tbody tr").First).ToBeVisibleAsync();
        var usage = await web.Api.GetAsync("/v1/usage");
        var days = usage.GetProperty("days").EnumerateArray().ToArray();
        var chart = await page.EvaluateAsync<JsonElement>(ChartData, "#tenant-usage-chart");
        var labels = chart.GetProperty("labels").EnumerateArray().Select(l => l.GetString()!).ToList();
        Assert.Equal(30, labels.Count); // the default range: the last 30 days, one point each
        var sets = chart.GetProperty("sets").EnumerateArray().ToDictionary(s => s.GetProperty("label").GetString()!, s => s.GetProperty("data").EnumerateArray().Select(v => v.GetDouble()).ToArray());
        foreach (var day in days)
        {
            var at = labels.IndexOf(day.GetProperty("day").GetString()!);
            Assert.True(at >= 0, $"no point for {day.GetProperty("day")}");
            Assert.Equal(day.GetProperty("cache_read_input_tokens").GetInt64(), sets["Cache reads"][at]);
            Assert.Equal(day.GetProperty("cache_creation_input_tokens").GetInt64(), sets["Cache writes"][at]);
            Assert.Equal(day.GetProperty("input_tokens").GetInt64(), sets["Uncached input"][at]);
            Assert.Equal(day.GetProperty("output_tokens").GetInt64(), sets["Output"][at]);
            Assert.Equal((double)day.GetProperty("cost_usd").GetDecimal(), sets["Cost (USD)"][at]);
        }
        Assert.Equal(days.Sum(d => d.GetProperty("output_tokens").GetInt64()), sets["Output"].Sum());
        var totals = usage.GetProperty("totals");
        await Expect(page.Locator("#tenant-usage-summary")).ToContainTextAsync($"Calls {totals.GetProperty("calls").GetInt64():N0}");
        await Expect(page.Locator("#tenant-usage-table tfoot")).ToContainTextAsync($"{totals.GetProperty("output_tokens").GetInt64():N0}");
    }

    [SkippableFact]
    public async Task Inspect_shows_the_next_request_its_parts_breakpoints_and_estimated_cost()
    {
        fixture.Require();
        await using var web = await fixture.OpenAsync(fixture.AcmeKey);
        var page = web.Page;
        var id = "inspect-" + Guid.NewGuid().ToString("N")[..8];
        await web.Api.CreateThreadAsync("billing", id, system: "Be exact.");
        await web.Api.TurnAsync("billing", id, "First.");
        await web.SignInAsync();
        await web.OpenThreadAsync("billing", id);

        await page.GetByRole(AriaRole.Tab, new() { Name = "Inspect" }).ClickAsync();
        await page.GetByLabel("Next message (optional)").FillAsync("What would you send?");
        await page.GetByRole(AriaRole.Button, new() { Name = "Inspect the next request" }).ClickAsync();
        var json = page.GetByLabel("Request JSON");
        await Expect(json).ToContainTextAsync("What would you send?");
        await Expect(json).ToContainTextAsync("\"system\"");
        var expected = await web.Api.PostAsync(ApiClient.Path("billing", id) + "/inspect", new { content = "What would you send?" });
        await Expect(page.Locator("#inspect-parts")).ToContainTextAsync($"total{expected.GetProperty("parts").GetProperty("total").GetInt64():N0}");
        await Expect(page.Locator("#inspect-breakpoints")).ToContainTextAsync(expected.GetProperty("breakpoints")[0].GetString()!);
        await Expect(page.Locator("#inspect-result")).ToContainTextAsync("Estimated cost");
    }
}
