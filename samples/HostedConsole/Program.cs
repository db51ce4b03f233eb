// A hosted console with a durable conversation: settings, a SQLite store and the local emulator of the Messages API
// (swap UseEmulator() for UseAnthropic() and set ANTHROPIC_API_KEY to talk to Claude). Run it twice: the second run
// remembers the first, because the thread lives in the SQLite file.
using ConversationLedger;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

var database = args.Length > 0 ? args[0] : Path.Combine(Path.GetTempPath(), "conversation-ledger-sample.db");
var builder = Host.CreateApplicationBuilder(args.Skip(1).ToArray());
builder.Services.AddConversationLedger(options => options.MaxTokens = 1024)
    .UseSqlite(database)
    .UseEmulator();

using var host = builder.Build();
await host.StartAsync();

var chat = host.Services.GetRequiredService<Ledger>().Open(new ThreadKey("samples", "hosted-console", "main"));
var turn = await chat.SendAsync("Hello! What can you see of our conversation?");
Console.WriteLine(turn.ReplyText);
Console.WriteLine($"({turn.MessagesSent} messages sent, {turn.Usage.TotalInputTokens} input tokens, stored in {database})");

await host.StopAsync();
