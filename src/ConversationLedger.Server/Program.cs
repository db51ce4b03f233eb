using ConversationLedger.Server;

await using var app = LedgerServer.Build(args);
await app.RunAsync();
