using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using ConversationLedger.Emulator;
using ConversationLedger.Web.Tests.Support;

namespace ConversationLedger.Web.Tests;

/// <summary>What can be done to a thread from the page, and what the page says about its context window.</summary>
[Collection(WebCollection.Name)]
public sealed class ThreadTests(WebFixture fixture)
{
    [SkippableFact]
    public async Task Pin_edit_system_prompt_fork_and_reset_work_and_survive_a_reload()
    {
        fixture.Require();
        await using var web = await fixture.OpenAsync(fixture.AcmeKey);
        var page = web.Page;
        var id = "ops-" + Guid.NewGuid().ToString("N")[..8];
        await web.Api.CreateThreadAsync("ops", id, system: "Be brief.");
        await web.Api.TurnAsync("ops", id, "My name is Ada.");
        await web.Api.TurnAsync("ops", id, "My printer is on fire.");
        await web.SignInAsync();
        await web.OpenThreadAsync("ops", id);

        // Pin: the second turn is pinned whole, and stays so (the ledger pins the first exchange itself); unpin the first.
        await Expect(page.Locator("#messages li.msg[data-pinned='true']")).ToHaveCountAsync(2);
        await page.GetByRole(AriaRole.Button, new() { Name = "Pin message 3", Exact = true }).ClickAsync();
        await Expect(page.Locator("#messages li.msg[data-pinned='true']")).ToHaveCountAsync(4);
        await page.GetByRole(AriaRole.Button, new() { Name = "Unpin message 1", Exact = true }).ClickAsync();
        await Expect(page.Locator("#messages li.msg[data-pinned='true']")).ToHaveCountAsync(2);
        await page.ReloadAsync();
        await Expect(page.Locator("#messages li.msg[data-ordinal='3']")).ToHaveAttributeAsync("data-pinned", "true");
        await Expect(page.Locator("#messages li.msg[data-ordinal='4']")).ToHaveAttributeAsync("data-pinned", "true");
        await Expect(page.Locator("#messages li.msg[data-ordinal='1']")).ToHaveAttributeAsync("data-pinned", "false");
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Unpin message 3", Exact = true })).ToBeVisibleAsync();
        Assert.Equal([false, false, true, true], (await web.Api.MessagesAsync("ops", id)).Select(m => m.GetProperty("pinned").GetBoolean()));

        // Edit: the new text is what the conversation holds now, marked as edited.
        await page.GetByRole(AriaRole.Button, new() { Name = "Edit message 3", Exact = true }).ClickAsync();
        var edit = page.GetByRole(AriaRole.Dialog, new() { Name = "Edit message 3 (you)" });
        await Expect(edit.GetByLabel("Text")).ToHaveValueAsync("My printer is on fire.");
        await edit.GetByLabel("Text").FillAsync("My printer is *smoking*.");
        await edit.GetByRole(AriaRole.Button, new() { Name = "Save edit" }).ClickAsync();
        await Expect(edit).ToBeHiddenAsync();
        await page.ReloadAsync();
        var third = page.Locator("#messages li.msg[data-ordinal='3']");
        await Expect(third.Locator(".msg-body em")).ToHaveTextAsync("smoking");
        await Expect(third.Locator(".badge", new() { HasText = "edited" })).ToBeVisibleAsync();
        var messages = await web.Api.MessagesAsync("ops", id);
        Assert.Equal("My printer is *smoking*.", messages[2].GetProperty("content")[0].GetProperty("text").GetString());

        // The system prompt.
        await page.GetByRole(AriaRole.Button, new() { Name = "Settings" }).ClickAsync();
        var settings = page.GetByRole(AriaRole.Dialog, new() { Name = "Thread settings" });
        await Expect(settings.GetByLabel("System prompt")).ToHaveValueAsync("Be brief.");
        await settings.GetByLabel("System prompt").FillAsync("Answer like a fire marshal.");
        await settings.GetByRole(AriaRole.Button, new() { Name = "Save" }).ClickAsync();
        await Expect(settings).ToBeHiddenAsync();
        Assert.Equal("Answer like a fire marshal.", (await web.Api.GetAsync(ApiClient.Path("ops", id))).GetProperty("system").GetString());

        // Fork from the first reply: the copy opens, holding the conversation up to that reply.
        await page.GetByRole(AriaRole.Button, new() { Name = "Fork here from message 2", Exact = true }).ClickAsync();
        await Expect(page).Not.ToHaveURLAsync(new Regex($"/{id}$"));
        await Expect(page.Locator("#thread-title")).Not.ToHaveTextAsync(id);
        var copy = Uri.UnescapeDataString(new Uri(page.Url).Fragment.Split('/')[^1]);
        await Expect(page.Locator("#messages li.msg")).ToHaveCountAsync(2);
        Assert.Equal(2, (await web.Api.MessagesAsync("ops", copy)).Length);
        await page.ReloadAsync();
        await Expect(page.Locator("#thread-title")).ToHaveTextAsync(copy);
        await Expect(page.Locator("#messages li.msg")).ToHaveCountAsync(2);

        // Reset the original (after confirming): its conversation starts afresh, and stays empty after a reload.
        await web.OpenThreadAsync("ops", id);
        await page.GetByRole(AriaRole.Button, new() { Name = "Reset" }).ClickAsync();
        var confirm = page.GetByRole(AriaRole.Dialog, new() { Name = "Reset this thread?" });
        await confirm.GetByRole(AriaRole.Button, new() { Name = "Reset" }).ClickAsync();
        await Expect(page.Locator("#messages li.msg")).ToHaveCountAsync(0);
        await page.ReloadAsync();
        await Expect(page.Locator("#messages .turn-note")).ToContainTextAsync("since the last reset");
        await Expect(page.Locator("#messages li.msg")).ToHaveCountAsync(0);
        Assert.Empty(await web.Api.MessagesAsync("ops", id));
    }

    [SkippableFact]
    public async Task Export_downloads_the_thread_and_delete_asks_first_then_erases_it()
    {
        fixture.Require();
        await using var web = await fixture.OpenAsync(fixture.AcmeKey);
        var page = web.Page;
        var id = "gone-" + Guid.NewGuid().ToString("N")[..8];
        await web.Api.CreateThreadAsync("ops", id);
        await web.Api.TurnAsync("ops", id, "Remember this.");
        await web.SignInAsync();
        await web.OpenThreadAsync("ops", id);

        var download = await page.RunAndWaitForDownloadAsync(() => page.GetByRole(AriaRole.Button, new() { Name = "Export" }).ClickAsync());
        Assert.Equal(id + ".json", download.SuggestedFilename);
        var path = Path.Combine(Path.GetTempPath(), Guid.NewGuid() + ".json");
        await download.SaveAsAsync(path);
        var exported = await File.ReadAllTextAsync(path);
        File.Delete(path);
        Assert.Contains("conversation-ledger/1", exported, StringComparison.Ordinal);
        Assert.Contains("Remember this.", exported, StringComparison.Ordinal);

        await page.GetByRole(AriaRole.Button, new() { Name = "Delete" }).ClickAsync();
        var confirm = page.GetByRole(AriaRole.Dialog, new() { Name = $"Delete thread {id}?" });
        await confirm.GetByRole(AriaRole.Button, new() { Name = "Cancel" }).ClickAsync();
        await Expect(page.Locator("#thread-title")).ToHaveTextAsync(id);
        await web.Api.GetAsync(ApiClient.Path("ops", id));

        await page.GetByRole(AriaRole.Button, new() { Name = "Delete" }).ClickAsync();
        await confirm.GetByRole(AriaRole.Button, new() { Name = "Delete" }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex("#/$"));
        await Expect(page.Locator($"#thread-list a[data-id='{id}']")).ToHaveCountAsync(0);
        var list = await web.Api.GetAsync("/v1/threads?scope=ops&q=" + id);
        Assert.Equal(0, list.GetProperty("data").GetArrayLength());
    }

    [SkippableFact]
    public async Task The_gauge_moves_and_warns_at_80_percent_before_the_call_on_a_small_window_model()
    {
        fixture.Require();
        await using var web = await fixture.OpenAsync(fixture.AcmeKey);
        var page = web.Page;
        var id = "small-" + Guid.NewGuid().ToString("N")[..8];
        await web.Api.CreateThreadAsync("gauge", id, model: WebFixture.SmallModel, policy: "keep-all");
        await web.Api.TurnAsync("gauge", id, "Hello.");
        // A message the service estimates above the warning level (80 % of 16,000 tokens), yet within the input budget.
        var draft = string.Join(' ', Enumerable.Repeat("apple", 13_000));
        var estimate = await web.Api.PostAsync(ApiClient.Path("gauge", id) + "/inspect", new { content = draft });
        Assert.InRange(estimate.GetProperty("fill").GetDouble(), 0.8, 0.87);

        await web.SignInAsync();
        await web.OpenThreadAsync("gauge", id);
        await Expect(page.Locator(".gauge")).ToHaveAttributeAsync("data-level", "ok");
        var before = double.Parse(await page.Locator("#gauge").GetAttributeAsync("data-fill") ?? "", CultureInfo.InvariantCulture);
        Assert.True(before < 0.1, $"fill {before}");

        // Typed, not sent: the warning is there before any call.
        await page.GetByLabel("Message", new() { Exact = true }).FillAsync(draft);
        var warning = page.Locator("#context-warning");
        await Expect(warning).ToBeVisibleAsync();
        await Expect(warning).ToContainTextAsync("Before sending");
        await Expect(warning).ToContainTextAsync("16,000-token context window");
        await web.ScreenshotAsync("desktop-light-warning");
        Assert.Equal(2, (await web.Api.MessagesAsync("gauge", id)).Length);
        var calls = web.Emulator.Requests.Received;

        await page.GetByRole(AriaRole.Button, new() { Name = "Send" }).ClickAsync();
        await web.WaitForTurnEndAsync();
        Assert.Equal(calls + 1, web.Emulator.Requests.Received);
        await Expect(page.Locator("#messages li.msg")).ToHaveCountAsync(4);
        await Expect(page.Locator(".gauge")).ToHaveAttributeAsync("data-level", "warn");
        var after = double.Parse(await page.Locator("#gauge").GetAttributeAsync("data-fill") ?? "", CultureInfo.InvariantCulture);
        Assert.True(after >= 0.8, $"fill after the turn {after}");
        await Expect(page.Locator("#gauge-text")).ToContainTextAsync("Warning");
        await Expect(page.Locator("#messages li.msg").Last.Locator(".msg-foot")).ToContainTextAsync("over the warning level");
        // The bar drawn is as long as the fill says (once its short transition is over).
        await page.WaitForFunctionAsync("""
            () => {
              const gauge = document.querySelector('#gauge');
              const drawn = document.querySelector('#gauge-fill').getBoundingClientRect().width / gauge.getBoundingClientRect().width;
              return Math.abs(drawn - Number(gauge.dataset.fill)) < 0.01;
            }
            """);
        await web.ScreenshotAsync("desktop-light-over-warning");
    }

    [SkippableFact]
    public async Task The_gauge_says_what_the_policy_left_out_and_which_pins_it_kept()
    {
        fixture.Require();
        await using var web = await fixture.OpenAsync(fixture.AcmeKey);
        var page = web.Page;
        var id = "window-" + Guid.NewGuid().ToString("N")[..8];
        await web.Api.CreateThreadAsync("gauge", id, policy: "window:2");
        for (var i = 1; i <= 4; i++)
        {
            await web.Api.TurnAsync("gauge", id, $"Turn {i}.");
        }
        var messages = await web.Api.MessagesAsync("gauge", id);
        await web.Api.PostAsync(ApiClient.Path("gauge", id) + "/pins", new { sequence = messages[0].GetProperty("sequence").GetInt64() });

        await web.SignInAsync();
        await web.OpenThreadAsync("gauge", id);
        var policy = page.Locator("#policy-text");
        await Expect(policy).ToContainTextAsync("left out");
        await Expect(policy).ToContainTextAsync("2 pinned messages kept");
        await Expect(policy).ToContainTextAsync(new Regex(@"[Mm]essages 3–\d+ left out"));
    }

    [SkippableFact]
    public async Task Thinking_streams_in_open_and_is_collapsed_once_the_reply_is_whole()
    {
        fixture.Require();
        await using var web = await fixture.OpenAsync(fixture.AcmeKey);
        var page = web.Page;
        var id = "think-" + Guid.NewGuid().ToString("N")[..8];
        await web.Api.CreateThreadAsync("agents", id, model: WebFixture.ThinkingModel);
        await web.SignInAsync();
        await web.OpenThreadAsync("agents", id);

        web.Emulator.Faults.Enqueue("tps:30");
        await web.SendAsync("Think about it, then answer.");
        var streaming = page.Locator("#messages [data-streaming] details[data-block='thinking']");
        await Expect(streaming).ToBeVisibleAsync();
        await Expect(streaming.Locator(".thinking-text")).Not.ToBeEmptyAsync();
        Assert.True(await streaming.EvaluateAsync<bool>("d => d.open"), "thinking is open while it streams");
        await web.WaitForTurnEndAsync();

        var stored = page.Locator("#messages li.msg[data-role='assistant'] details[data-block='thinking']");
        await Expect(stored).ToHaveCountAsync(1);
        Assert.False(await stored.EvaluateAsync<bool>("d => d.open"));
        await Expect(stored.Locator("summary")).ToHaveTextAsync("Thinking");
        var reply = (await web.Api.MessagesAsync("agents", id))[1];
        var thinking = reply.GetProperty("content")[0].GetProperty("thinking").GetString();
        await Expect(stored.Locator(".thinking-text")).ToHaveTextAsync(thinking!);
    }

    [SkippableFact]
    public async Task Thinking_is_collapsible_and_tool_calls_and_results_are_shown_as_such()
    {
        fixture.Require();
        await using var web = await fixture.OpenAsync(fixture.AcmeKey);
        var page = web.Page;
        var id = "tools-" + Guid.NewGuid().ToString("N")[..8];
        await web.Api.CreateThreadAsync("agents", id);
        var tools = JsonDocument.Parse("""[{"name":"get_weather","description":"The weather in a city","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}]""").RootElement;
        web.Emulator.Script.Enqueue(ScriptedReply.Parse(JsonDocument.Parse(
            """{"content":[{"type":"tool_use","id":"toolu_01","name":"get_weather","input":{"city":"Oslo"}}],"stop_reason":"tool_use"}""").RootElement));
        var path = ApiClient.Path("agents", id);
        await web.Api.PostAsync(path + "/turns", new { content = "Weather in Oslo?", tools, thinking = 1024, max_tokens = 4096 });
        await web.Api.PostAsync(path + "/turns", new
        {
            content = new object[] { new { type = "tool_result", tool_use_id = "toolu_01", content = "12 °C and raining" } },
            tools,
            thinking = 1024,
            max_tokens = 4096,
        });

        await web.SignInAsync();
        await web.OpenThreadAsync("agents", id);
        var thinking = page.Locator("#messages details[data-block='thinking']").First;
        await Expect(thinking).ToBeVisibleAsync();
        Assert.False(await thinking.EvaluateAsync<bool>("d => d.open"));
        await thinking.Locator("summary").ClickAsync();
        Assert.True(await thinking.EvaluateAsync<bool>("d => d.open"));
        var call = page.Locator("#messages [data-block='tool_use']");
        await Expect(call).ToContainTextAsync("Tool call get_weather");
        await Expect(call).ToContainTextAsync("\"city\": \"Oslo\"");
        var result = page.Locator("#messages [data-block='tool_result']");
        await Expect(result).ToContainTextAsync("Tool result for toolu_01");
        await Expect(result).ToContainTextAsync("12 °C and raining");
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Edit message 3", Exact = true })).ToHaveCountAsync(0);
    }
}
