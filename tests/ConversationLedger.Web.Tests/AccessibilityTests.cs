using Deque.AxeCore.Commons;
using Deque.AxeCore.Playwright;
using ConversationLedger.Web.Tests.Support;

namespace ConversationLedger.Web.Tests;

/// <summary>axe-core finds nothing wrong in any view, light or dark: labels, names, roles, contrast.</summary>
[Collection(WebCollection.Name)]
public sealed class AccessibilityTests(WebFixture fixture)
{
    [SkippableTheory]
    [InlineData(ColorScheme.Light)]
    [InlineData(ColorScheme.Dark)]
    public async Task Every_view_passes_axe(ColorScheme scheme)
    {
        fixture.Require();
        await using var web = await fixture.OpenAsync(fixture.AcmeKey, scheme: scheme);
        var page = web.Page;
        var id = "a11y-" + Guid.NewGuid().ToString("N")[..8];
        await web.Api.CreateThreadAsync("a11y", id, system: "Be brief.");
        await web.Api.TurnAsync("a11y", id, "A question with **Markdown**, `code` and a [link](https://example.com).");
        var problems = new List<string>();

        await page.GotoAsync("/");
        await Expect(page.GetByLabel("API key")).ToBeVisibleAsync();
        await CheckAsync(page, "sign in", problems);
        await web.SignInAsync();
        await CheckAsync(page, "threads", problems);
        await web.OpenThreadAsync("a11y", id);
        await page.GetByLabel("Message", new() { Exact = true }).FillAsync("A draft.");
        await Expect(page.Locator("#next-estimate")).ToContainTextAsync("This request");
        await CheckAsync(page, "chat", problems);
        await page.GetByRole(AriaRole.Tab, new() { Name = "Usage" }).ClickAsync();
        await Expect(page.Locator("#thread-usage-table tbody tr")).ToHaveCountAsync(1);
        await CheckAsync(page, "thread usage", problems);
        await page.GetByRole(AriaRole.Tab, new() { Name = "Inspect" }).ClickAsync();
        await Expect(page.GetByLabel("Request JSON")).ToBeVisibleAsync();
        await CheckAsync(page, "inspect", problems);
        await page.GetByRole(AriaRole.Button, new() { Name = "Settings" }).ClickAsync();
        await CheckAsync(page, "settings dialog", problems);
        await page.Keyboard.PressAsync("Escape");
        await page.GetByRole(AriaRole.Button, new() { Name = "New thread" }).ClickAsync();
        await CheckAsync(page, "new thread dialog", problems);
        await page.Keyboard.PressAsync("Escape");
        await page.GetByRole(AriaRole.Link, new() { Name = "Usage", Exact = true }).ClickAsync();
        await Expect(page.Locator("#tenant-usage-table tbody tr").First).ToBeVisibleAsync();
        await CheckAsync(page, "tenant usage", problems);

        Assert.True(problems.Count == 0, string.Join('\n', problems));
    }

    private static async Task CheckAsync(IPage page, string view, List<string> problems)
    {
        var result = await page.RunAxe();
        foreach (var violation in result.Violations)
        {
            var nodes = string.Join("; ", violation.Nodes.Take(4).Select(n => $"{n.Target} {n.Html}"));
            problems.Add($"{view}: {violation.Id} ({violation.Impact}) {violation.Help}: {nodes}");
        }
    }
}
