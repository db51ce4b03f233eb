using System.Text.RegularExpressions;
using ConversationLedger.Web.Tests.Support;

namespace ConversationLedger.Web.Tests;

/// <summary>The page at phone and desktop width, light and dark, from the keyboard, with screenshots for people to look at.</summary>
[Collection(WebCollection.Name)]
public sealed class PageTests(WebFixture fixture)
{
    [SkippableFact]
    public async Task The_page_works_from_the_keyboard()
    {
        fixture.Require();
        await using var web = await fixture.OpenAsync(fixture.AcmeKey);
        var page = web.Page;
        var id = "keys-" + Guid.NewGuid().ToString("N")[..8];
        await web.Api.CreateThreadAsync("keyboard", id);

        await page.GotoAsync($"/#/t/keyboard/{id}");
        await Expect(page.GetByLabel("API key")).ToBeFocusedAsync();
        await page.Keyboard.TypeAsync(fixture.AcmeKey);
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.Locator("#thread-title")).ToHaveTextAsync(id);

        await page.GetByLabel("Message", new() { Exact = true }).FocusAsync();
        await page.Keyboard.TypeAsync("Sent with the Enter key.");
        await page.Keyboard.PressAsync("Enter");
        await web.WaitForTurnEndAsync();
        await Expect(page.Locator("#messages li.msg")).ToHaveCountAsync(2);

        await page.GetByRole(AriaRole.Tab, new() { Name = "Chat" }).FocusAsync();
        await page.Keyboard.PressAsync("ArrowRight");
        await Expect(page.GetByRole(AriaRole.Tab, new() { Name = "Usage" })).ToBeFocusedAsync();
        await Expect(page.GetByRole(AriaRole.Tab, new() { Name = "Usage" })).ToHaveAttributeAsync("aria-selected", "true");
        await Expect(page.GetByRole(AriaRole.Tabpanel, new() { Name = "Usage" })).ToBeVisibleAsync();

        await page.GetByRole(AriaRole.Button, new() { Name = "Delete" }).FocusAsync();
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.GetByRole(AriaRole.Dialog)).ToBeVisibleAsync();
        await page.Keyboard.PressAsync("Escape");
        await Expect(page.GetByRole(AriaRole.Dialog)).ToBeHiddenAsync();
        await web.Api.GetAsync(ApiClient.Path("keyboard", id)); // still there
    }

    [SkippableFact]
    public async Task Screenshots_at_desktop_and_phone_width_in_light_and_dark()
    {
        fixture.Require();
        var id = "ticket-42";
        await using (var setup = await fixture.OpenAsync(fixture.AcmeKey))
        {
            if ((await setup.Api.GetAsync("/v1/threads?scope=screenshots")).GetProperty("data").GetArrayLength() == 0)
            {
                // A handbook long enough to be cached (the usage chart shows cache writes, then reads) and, on the small-window
                // model, to fill the gauge a good part of the way.
                var handbook = "You are a concise support engineer. " + string.Join(' ', Enumerable.Range(1, 220).Select(n =>
                    $"Rule {n}: confirm the customer's device model and firmware before suggesting a fix, and never ask for a password."));
                await setup.Api.CreateThreadAsync("screenshots", id, model: WebFixture.SmallModel, policy: "window:6/2", system: handbook);
                await setup.Api.CreateThreadAsync("screenshots", "onboarding-7");
                await setup.Api.TurnAsync("screenshots", "onboarding-7", "How do I invite my team?");
                foreach (var question in new[] { "My name is Ada and my printer is on fire.", "It is a **LaserJet 4**; the tray is smoking.", "What should I do first?", "And after that?", "What's my name?" })
                {
                    await setup.Api.TurnAsync("screenshots", id, question);
                }
                var first = (await setup.Api.MessagesAsync("screenshots", id))[0].GetProperty("sequence").GetInt64();
                await setup.Api.PostAsync(ApiClient.Path("screenshots", id) + "/pins", new { sequence = first });
            }
        }

        foreach (var (name, width, height, scheme) in new[]
        {
            ("desktop-light", 1280, 860, ColorScheme.Light), ("desktop-dark", 1280, 860, ColorScheme.Dark),
            ("phone-light", 390, 844, ColorScheme.Light), ("phone-dark", 390, 844, ColorScheme.Dark),
        })
        {
            await using var web = await fixture.OpenAsync(fixture.AcmeKey, width, height, scheme);
            var page = web.Page;
            await web.SignInAsync();
            if (name.StartsWith("phone", StringComparison.Ordinal))
            {
                await Expect(page.Locator("#thread-view")).ToBeHiddenAsync();
                await web.ScreenshotAsync(name + "-threads");
            }
            await web.OpenThreadAsync("screenshots", id);
            await Expect(page.Locator("#policy-text")).ToContainTextAsync("pinned");
            if (name.StartsWith("phone", StringComparison.Ordinal))
            {
                await Expect(page.Locator("#threads-pane")).ToBeHiddenAsync();
                await Expect(page.GetByRole(AriaRole.Link, new() { Name = "Threads" }).First).ToBeVisibleAsync();
            }
            await page.GetByLabel("Message", new() { Exact = true }).FillAsync("Thanks! Can you *summarize* the steps?");
            await Expect(page.Locator("#next-estimate")).ToContainTextAsync("This request");
            await web.ScreenshotAsync(name + "-chat");
            await page.GetByRole(AriaRole.Tab, new() { Name = "Usage" }).ClickAsync();
            await Expect(page.Locator("#thread-usage-table tbody tr")).ToHaveCountAsync(5);
            await web.ScreenshotAsync(name + "-usage");
            await page.GetByRole(AriaRole.Tab, new() { Name = "Inspect" }).ClickAsync();
            await Expect(page.GetByLabel("Request JSON")).ToBeVisibleAsync();
            await web.ScreenshotAsync(name + "-inspect");
            await page.GetByRole(AriaRole.Link, new() { Name = "Usage", Exact = true }).ClickAsync();
            await Expect(page).ToHaveURLAsync(new Regex("#/usage$"));
            await Expect(page.Locator("#tenant-usage-table tbody tr").First).ToBeVisibleAsync();
            await web.ScreenshotAsync(name + "-tenant-usage");
        }
        Assert.True(File.Exists(Path.Combine(WebFixture.ScreenshotFolder, "desktop-light-chat.png")));
    }
}
