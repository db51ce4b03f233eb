using ConversationLedger.Server.State;
using ConversationLedger.Web.Tests.Support;

namespace ConversationLedger.Web.Tests;

/// <summary>The page as a person gets it: from <c>ledger serve</c>, on its defaults, replies from its own emulator.</summary>
[Collection(WebCollection.Name)]
public sealed class LedgerServeTests(WebFixture fixture)
{
    [SkippableFact]
    public async Task Ledger_serve_serves_the_page_and_chats_through_its_own_in_process_emulator()
    {
        fixture.Require();
        var folder = Directory.CreateTempSubdirectory("ledger-serve-web-").FullName;
        try
        {
            var table = Path.Combine(folder, "models.json");
            await File.WriteAllTextAsync(table, WebFixture.ModelTable);
            var database = Path.Combine(folder, "ledger.db");
            string key;
            await using (var state = ServiceState.Sqlite(database))
            {
                await state.EnsureSchemaAsync();
                key = (await state.CreateKeyAsync("initech", "web")).Secret;
            }
            await using var server = await ServerProcess.StartLedgerServeAsync("sqlite:" + database, new Dictionary<string, string>
            {
                ["Server__ModelTable"] = table, // for the ledger and the emulator inside the service alike
            });
            await using var web = await fixture.OpenAsync(key, server: server.Url);
            var page = web.Page;
            await web.SignInAsync();
            await Expect(page.Locator("#thread-list")).ToContainTextAsync("No threads yet");

            await page.GetByRole(AriaRole.Button, new() { Name = "New thread" }).ClickAsync();
            var dialog = page.GetByRole(AriaRole.Dialog, new() { Name = "New thread" });
            await dialog.GetByLabel("Id").FillAsync("first");
            await dialog.GetByLabel("Model").FillAsync(WebFixture.SmallModel);
            await dialog.GetByRole(AriaRole.Button, new() { Name = "Create" }).ClickAsync();
            await Expect(page.Locator("#gauge-value")).ToContainTextAsync("of 16,000 tokens");

            await web.SendAsync("Hello from the page.");
            await web.WaitForTurnEndAsync();
            await Expect(page.Locator("#messages li.msg[data-role='assistant']")).ToContainTextAsync("[emulator] I can see 1 message");
            await Expect(page.Locator("#thread-list a[data-id='first']")).ToContainTextAsync("2 messages");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
