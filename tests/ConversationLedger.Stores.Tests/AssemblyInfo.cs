// Says once which servers are missing when their tests are skipped (see ServersNotice).
[assembly: Xunit.TestFramework("ConversationLedger.Stores.Tests.ServersNotice", "ConversationLedger.Stores.Tests")]
