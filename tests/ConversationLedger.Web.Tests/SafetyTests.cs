using ConversationLedger.Emulator;
using ConversationLedger.Web.Tests.Support;

namespace ConversationLedger.Web.Tests;

/// <summary>What comes from users and the model cannot run in the page, and one tenant's key sees nothing of another's.</summary>
[Collection(WebCollection.Name)]
public sealed class SafetyTests(WebFixture fixture)
{
    private const string Hostile = """
        **bold** and `code`

        <script>window.__pwned = 1</script>

        <img src=x onerror="window.__pwned = 2"> and [a link](javascript:window.__pwned=3)
        """;

    [SkippableFact]
    public async Task Script_and_html_in_messages_render_as_text_beside_the_markdown_and_run_nothing()
    {
        fixture.Require();
        await using var web = await fixture.OpenAsync(fixture.AcmeKey);
        var page = web.Page;
        var id = "xss-" + Guid.NewGuid().ToString("N")[..8];
        await web.Api.CreateThreadAsync("safety", id);
        await web.SignInAsync();
        await web.OpenThreadAsync("safety", id);

        web.Emulator.Script.Enqueue(ScriptedReply.Text("# Heading\n\n<script>window.__pwned = 4</script>\n\n<img src=x onerror=\"window.__pwned = 5\"> _emphasis_"));
        await web.SendAsync(Hostile);
        await web.WaitForTurnEndAsync();
        await page.ReloadAsync();
        await Expect(page.Locator("#messages li.msg")).ToHaveCountAsync(2);

        var user = page.Locator("#messages li.msg[data-role='user'] .msg-body");
        var reply = page.Locator("#messages li.msg[data-role='assistant'] .msg-body");
        await Expect(user.Locator("strong")).ToHaveTextAsync("bold");
        await Expect(user.Locator("code")).ToHaveTextAsync("code");
        await Expect(user).ToContainTextAsync("<script>window.__pwned = 1</script>");
        await Expect(user).ToContainTextAsync("<img src=x onerror=\"window.__pwned = 2\">");
        await Expect(reply.Locator("h1")).ToHaveTextAsync("Heading");
        await Expect(reply.Locator("em")).ToHaveTextAsync("emphasis");
        await Expect(reply).ToContainTextAsync("<script>window.__pwned = 4</script>");
        Assert.Equal(0, await page.Locator("#messages script, #messages img, #messages [onerror], #messages a[href^='javascript']").CountAsync());
        await page.Locator("#messages a", new() { HasText = "a link" }).ClickAsync();
        await Task.Delay(300);
        Assert.True(await page.EvaluateAsync<bool>("() => window.__pwned === undefined"));
    }

    [SkippableFact]
    public async Task A_second_tenants_key_sees_none_of_the_first_tenants_threads()
    {
        fixture.Require();
        var id = "private-" + Guid.NewGuid().ToString("N")[..8];
        await using (var acme = await fixture.OpenAsync(fixture.AcmeKey))
        {
            await acme.Api.CreateThreadAsync("secrets", id);
            await acme.Api.TurnAsync("secrets", id, "The launch code is 0000.");
        }

        await using var web = await fixture.OpenAsync(fixture.GlobexKey);
        var page = web.Page;
        await web.SignInAsync();
        var theirs = (await web.Api.GetAsync("/v1/threads?limit=200")).GetProperty("data").EnumerateArray().Select(t => t.GetProperty("id").GetString()).ToArray();
        await Expect(page.Locator("#thread-list a")).ToHaveCountAsync(theirs.Length);
        await Expect(page.Locator($"#thread-list a[data-id='{id}']")).ToHaveCountAsync(0);
        await page.GetByRole(AriaRole.Search).GetByLabel("Scope").FillAsync("secrets");
        await page.GetByRole(AriaRole.Button, new() { Name = "Search" }).ClickAsync();
        await Expect(page.Locator("#thread-list")).ToContainTextAsync("No thread matches");

        await page.GotoAsync($"/#/t/secrets/{id}");
        await Expect(page.Locator("#thread-error")).ToContainTextAsync($"No thread {id} in scope secrets");
        await Expect(page.Locator("#messages")).Not.ToContainTextAsync("launch code");
        await page.GotoAsync("/#/usage");
        await Expect(page.Locator("#tenant-usage-summary")).ToContainTextAsync("Calls 0");
    }
}
