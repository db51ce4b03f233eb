using ConversationLedger.Postgres;
using ConversationLedger.Redis;
using ConversationLedger.Sqlite;

namespace ConversationLedger.Stores.CrashChild;

internal static class ChildStores
{
    public static IConversationStore Open(string kind, string connection) => kind switch
    {
        "sqlite" => new SqliteConversationStore(connection),
        "postgres" => new PostgresConversationStore(connection),
        "redis" => new RedisConversationStore(StackExchange.Redis.ConnectionMultiplexer.Connect(connection)),
        _ => throw new ArgumentException($"unknown store {kind}"),
    };
}
