using System.Text.RegularExpressions;
using ConversationLedger.Web.Tests.Support;

namespace ConversationLedger.Web.Tests;

/// <summary>Signing in, creating a thread and chatting: replies stream in, Stop stores nothing, errors are shown inline.</summary>
[Collection(WebCollection.Name)]
public sealed class ChatTests(WebFixture fixture)
{
    [SkippableFact]
    public async Task Signing_in_needs_a_key_the_service_accepts_and_signing_out_forgets_it()
    {
        fixture.Require();
        await using var web = await fixture.OpenAsync(fixture.AcmeKey);
        var page = web.Page;
        await page.GotoAsync("/");
        await page.GetByLabel("API key").FillAsync("cl_not-a-key");
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Expect(page.Locator("#sign-in-error")).ToContainTextAsync("did not accept");
        Assert.Null(await page.EvaluateAsync<string?>("sessionStorage.getItem('conversation-ledger.api-key')"));

        await web.SignInAsync();
        Assert.Equal(fixture.AcmeKey, await page.EvaluateAsync<string?>("sessionStorage.getItem('conversation-ledger.api-key')"));
        await page.ReloadAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Threads", Exact = true })).ToBeVisibleAsync();

        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await Expect(page.GetByLabel("API key")).ToBeVisibleAsync();
        Assert.Null(await page.EvaluateAsync<string?>("sessionStorage.getItem('conversation-ledger.api-key')"));
    }

    [SkippableFact]
    public async Task The_thread_list_filters_by_scope_id_and_metadata_and_pages_newest_first()
    {
        fixture.Require();
        await using var web = await fixture.OpenAsync(fixture.AcmeKey);
        var page = web.Page;
        var scope = "list-" + Guid.NewGuid().ToString("N")[..8];
        for (var i = 1; i <= 30; i++)
        {
            await web.Api.PostAsync("/v1/threads", new { scope, id = $"t-{i:D2}", metadata = new Dictionary<string, string> { ["team"] = i % 3 == 0 ? "red" : "blue" } });
        }
        await web.Api.TurnAsync(scope, "t-07", "Make me the newest.");
        await web.SignInAsync();
        var filters = page.GetByRole(AriaRole.Search);

        await filters.GetByLabel("Scope").FillAsync(scope);
        await filters.GetByRole(AriaRole.Button, new() { Name = "Search" }).ClickAsync();
        var links = page.Locator("#thread-list a");
        await Expect(links).ToHaveCountAsync(25);
        await Expect(links.First).ToHaveAttributeAsync("data-id", "t-07");
        await Expect(links.First).ToContainTextAsync("2 messages");
        await page.GetByRole(AriaRole.Button, new() { Name = "More threads" }).ClickAsync();
        await Expect(links).ToHaveCountAsync(30);
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "More threads" })).ToBeHiddenAsync();

        await filters.GetByLabel("Id contains").FillAsync("t-1");
        await filters.GetByLabel("Id contains").PressAsync("Enter");
        await Expect(links).ToHaveCountAsync(10);

        await filters.GetByLabel("Id contains").FillAsync("");
        await filters.GetByLabel("Metadata").FillAsync("team=red");
        await filters.GetByRole(AriaRole.Button, new() { Name = "Search" }).ClickAsync();
        await Expect(links).ToHaveCountAsync(10);
        Assert.All(await links.EvaluateAllAsync<string[]>("links => links.map(l => l.dataset.id)"), id => Assert.Equal(0, int.Parse(id[2..], System.Globalization.CultureInfo.InvariantCulture) % 3));

        await filters.GetByLabel("Metadata").FillAsync("team");
        await filters.GetByRole(AriaRole.Button, new() { Name = "Search" }).ClickAsync();
        await Expect(page.Locator("#filter-error")).ToContainTextAsync("is not key=value");
    }

    [SkippableFact]
    public async Task A_thread_created_on_the_page_takes_three_turns_each_streaming_in_before_it_ends()
    {
        fixture.Require();
        await using var web = await fixture.OpenAsync(fixture.AcmeKey);
        var page = web.Page;
        await web.SignInAsync();
        var id = "chat-" + Guid.NewGuid().ToString("N")[..8];

        await page.GetByRole(AriaRole.Button, new() { Name = "New thread" }).ClickAsync();
        var dialog = page.GetByRole(AriaRole.Dialog, new() { Name = "New thread" });
        await dialog.GetByLabel("Scope").FillAsync("support");
        await dialog.GetByLabel("Id").FillAsync(id);
        await dialog.GetByLabel("Model").FillAsync(WebFixture.DefaultModel);
        await dialog.GetByLabel("History policy").FillAsync("window:20/10");
        await dialog.GetByLabel("System prompt").FillAsync("You are a concise support engineer.");
        await web.ScreenshotAsync("desktop-light-new-thread");
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Create" }).ClickAsync();
        await Expect(page.Locator("#thread-title")).ToHaveTextAsync(id);
        await Expect(page).ToHaveURLAsync(new Regex($"#/t/support/{id}$"));
        var created = await web.Api.GetAsync(ApiClient.Path("support", id));
        Assert.Equal("You are a concise support engineer.", created.GetProperty("system").GetString());
        Assert.Equal("window:20/10", created.GetProperty("policy").GetString());
        Assert.Equal(WebFixture.DefaultModel, created.GetProperty("model").GetString());

        var fills = new List<double>();
        fills.Add(await GaugeFillAsync(page));
        for (var turn = 1; turn <= 3; turn++)
        {
            // About 60 tokens at 15 a second: four seconds in which the reply must be seen growing.
            web.Emulator.Faults.Enqueue("tps:15");
            await web.SendAsync($"Question {turn}: is the printer **still** on fire?");
            var lengths = await StreamedLengthsAsync(page);
            Assert.True(lengths.Count >= 2 && lengths[^1] > lengths[0],
                $"turn {turn}: the reply did not grow while it streamed (lengths seen: {string.Join(", ", lengths)})");
            await web.WaitForTurnEndAsync();
            await Expect(page.Locator("#messages li.msg")).ToHaveCountAsync(turn * 2);
            await Expect(page.Locator("#gauge")).Not.ToHaveAttributeAsync("data-fill", fills[^1].ToString(System.Globalization.CultureInfo.InvariantCulture));
            fills.Add(await GaugeFillAsync(page));
        }

        Assert.True(fills.Zip(fills.Skip(1)).All(p => p.Second > p.First), $"the gauge did not move up after each turn: {string.Join(", ", fills)}");
        var shown = await web.ShownMessagesAsync();
        var stored = await web.Api.MessagesAsync("support", id);
        Assert.Equal(stored.Length, shown.Count);
        Assert.Contains("I can see 5 messages", shown[^1].Text, StringComparison.Ordinal);
        await Expect(page.Locator($"#thread-list a[data-id='{id}']")).ToContainTextAsync("6 messages");
    }

    [SkippableFact]
    public async Task Stop_mid_reply_cancels_the_turn_and_leaves_the_thread_as_it_was()
    {
        fixture.Require();
        await using var web = await fixture.OpenAsync(fixture.AcmeKey);
        var page = web.Page;
        var id = "stop-" + Guid.NewGuid().ToString("N")[..8];
        await web.Api.CreateThreadAsync("support", id);
        await web.Api.TurnAsync("support", id, "The first question.");
        await web.SignInAsync();
        await web.OpenThreadAsync("support", id);
        var before = await web.Api.MessagesAsync("support", id);

        web.Emulator.Faults.Enqueue("tps:20");
        await web.SendAsync("Please answer in 400 words.");
        var reply = page.Locator("#messages [data-streaming] .md");
        await Expect(reply).Not.ToBeEmptyAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Stop" }).ClickAsync();

        await Expect(page.Locator("#messages .turn-note")).ToContainTextAsync("Nothing was stored");
        await Expect(page.GetByLabel("Message", new() { Exact = true })).ToHaveValueAsync("Please answer in 400 words.");
        Assert.Equal(before.Length, (await web.Api.MessagesAsync("support", id)).Length);
        Assert.Equal(2, (await web.ShownMessagesAsync()).Count);

        await page.ReloadAsync();
        await Expect(page.Locator("#messages li.msg")).ToHaveCountAsync(2);
        var usage = await web.Api.GetAsync(ApiClient.Path("support", id) + "/usage");
        Assert.All(usage.GetProperty("calls").EnumerateArray().Skip(1), c => Assert.Equal("uncommitted", c.GetProperty("kind").GetString()));
    }

    [SkippableFact]
    public async Task A_failed_turn_is_shown_inline_with_its_reason_and_stores_nothing()
    {
        fixture.Require();
        await using var web = await fixture.OpenAsync(fixture.AcmeKey);
        var page = web.Page;
        var id = "error-" + Guid.NewGuid().ToString("N")[..8];
        await web.Api.CreateThreadAsync("support", id);
        await web.SignInAsync();
        await web.OpenThreadAsync("support", id);

        web.Emulator.Faults.Enqueue("529");
        await web.SendAsync("Is anyone there?");

        var error = page.Locator("#messages .turn-error");
        await Expect(error).ToBeVisibleAsync();
        await Expect(error).ToHaveAttributeAsync("role", "alert");
        await Expect(error).ToContainTextAsync("nothing was stored");
        await Expect(error).ToContainTextAsync("529");
        await Expect(page.GetByLabel("Message", new() { Exact = true })).ToHaveValueAsync("Is anyone there?");
        Assert.Empty(await web.Api.MessagesAsync("support", id));
    }

    // The lengths of the streaming reply's text, sampled until the turn ends.
    private static async Task<List<int>> StreamedLengthsAsync(IPage page)
    {
        var lengths = new List<int>();
        var streaming = page.Locator("#messages [data-streaming] .md");
        await Expect(streaming).Not.ToBeEmptyAsync(new() { Timeout = 20_000 });
        for (var i = 0; i < 200; i++)
        {
            var length = await page.EvaluateAsync<int>("() => document.querySelector('#messages [data-streaming] .md')?.textContent.length ?? -1");
            if (length < 0)
            {
                break;
            }
            if (lengths.Count == 0 || lengths[^1] != length)
            {
                lengths.Add(length);
            }
            await Task.Delay(100);
        }
        return lengths;
    }

    private static async Task<double> GaugeFillAsync(IPage page) =>
        double.Parse(await page.Locator("#gauge").GetAttributeAsync("data-fill") ?? "0", System.Globalization.CultureInfo.InvariantCulture);
}
