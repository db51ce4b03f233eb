using ConversationLedger.Sqlite;
using Microsoft.Data.Sqlite;

namespace ConversationLedger.Stores.Tests;

/// <summary>The window is a query, not a filter: SQLite answers it with index searches only, never a scan of the thread.</summary>
public sealed class SqliteQueryPlanTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("ledger-plan-").FullName;

    [Fact]
    public async Task The_window_query_searches_indexes_and_never_scans_the_entries()
    {
        var path = Path.Combine(_directory, "ledger.db");
        var store = new SqliteConversationStore(path);
        var key = new ThreadKey("tenant", "scope", "thread");
        await store.AppendAsync(key, 0, [new MessageEntry(Message.User("hi")), new MessageEntry(Message.Assistant("hello"))]);

        await using var connection = new SqliteConnection($"Data Source={path}");
        await connection.OpenAsync();
        var plan = new List<string>();
        foreach (var sql in SqliteConversationStore.WindowQueries)
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "EXPLAIN QUERY PLAN " + sql;
            foreach (var name in new[] { "$t", "$s", "$id", "$boundary", "$lo", "$floor", "$seq", "$kind", "$from", "$target", "$p0", "$p1" })
            {
                if (sql.Contains(name, StringComparison.Ordinal))
                {
                    command.Parameters.AddWithValue(name, name == "$kind" ? "summary" : name is "$t" or "$s" or "$id" ? "x" : 1L);
                }
            }
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                plan.Add(reader.GetString(3));
            }
        }

        Assert.Contains(plan, step => step.Contains("messages_by_ordinal", StringComparison.Ordinal) && step.Contains("running_messages>", StringComparison.Ordinal));
        Assert.Contains(plan, step => step.Contains("messages_by_tokens", StringComparison.Ordinal) && step.Contains("running_tokens>", StringComparison.Ordinal));
        Assert.DoesNotContain(plan, step => step.StartsWith("SCAN", StringComparison.Ordinal));
        Assert.Contains(plan, step => step.Contains("entries_by_target", StringComparison.Ordinal) && step.Contains("target>", StringComparison.Ordinal));
        // The primary key only for single-row lookups: a range on it would walk the thread.
        Assert.All(plan.Where(step => step.Contains("PRIMARY KEY", StringComparison.Ordinal)),
            step => Assert.EndsWith("sequence=?)", step, StringComparison.Ordinal));
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}

/// <summary>SQLite specifics: the file's settings and schema versioning.</summary>
public sealed class SqliteFileTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("ledger-file-").FullName;

    private string DbPath => Path.Combine(_directory, "ledger.db");

    private async Task<object?> ScalarAsync(string sql)
    {
        await using var connection = new SqliteConnection($"Data Source={DbPath}");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return await command.ExecuteScalarAsync();
    }

    [Fact]
    public async Task First_use_creates_a_versioned_schema_in_wal_mode()
    {
        await new SqliteConversationStore(DbPath).GetHeadAsync(new ThreadKey("t", "s", "x"));

        Assert.Equal("wal", await ScalarAsync("PRAGMA journal_mode"));
        Assert.Equal((long)SqliteConversationStore.SchemaVersion, await ScalarAsync("SELECT MAX(version) FROM schema_version"));
    }

    [Fact]
    public async Task A_database_from_a_newer_version_is_refused()
    {
        await new SqliteConversationStore(DbPath).GetHeadAsync(new ThreadKey("t", "s", "x"));
        await ScalarAsync("INSERT INTO schema_version (version) VALUES (99)");

        var error = await Assert.ThrowsAsync<LedgerException>(() => new SqliteConversationStore(DbPath).GetHeadAsync(new ThreadKey("t", "s", "x")));

        Assert.Contains("schema version 99", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Deleted_text_is_gone_from_the_files()
    {
        var store = new SqliteConversationStore(DbPath);
        var key = new ThreadKey("t", "s", "x");
        var secret = "secret-" + Guid.NewGuid().ToString("N");
        await store.AppendAsync(key, 0, [new MessageEntry(Message.User(secret)), new MessageEntry(Message.Assistant("noted"))]);
        await store.AppendAsync(new ThreadKey("t", "s", "kept"), 0, [new MessageEntry(Message.User("other")), new MessageEntry(Message.Assistant("ok"))]);

        await store.DeleteThreadAsync(key);
        SqliteConnection.ClearAllPools();

        var bytes = Directory.GetFiles(_directory).SelectMany(File.ReadAllBytes).ToArray();
        Assert.Equal(-1, bytes.AsSpan().IndexOf(System.Text.Encoding.UTF8.GetBytes(secret)));
        Assert.NotEqual(-1, bytes.AsSpan().IndexOf("other"u8));
    }

    private string ReadOnlyStore => $"Data Source={DbPath};Mode=ReadOnly";

    private async Task<ThreadKey> WriteOneTurnAsync()
    {
        var key = new ThreadKey("t", "s", "x");
        await new SqliteConversationStore(DbPath).AppendAsync(key, 0, [new MessageEntry(Message.User("hi")), new MessageEntry(Message.Assistant("hello"))]);
        SqliteConnection.ClearAllPools();
        return key;
    }

    [Fact]
    public async Task A_store_opened_read_only_reads_without_setting_its_journal_mode_and_refuses_writes()
    {
        var key = await WriteOneTurnAsync();
        await ScalarAsync("PRAGMA journal_mode = DELETE");
        SqliteConnection.ClearAllPools();
        var bytes = await File.ReadAllBytesAsync(DbPath);
        var store = new SqliteConversationStore(ReadOnlyStore);

        var head = await store.GetHeadAsync(key);
        var entries = await store.ReadEntriesAsync(key, 0, 10);
        var write = await Assert.ThrowsAsync<SqliteException>(() => store.AppendAsync(key, 2, [new MessageEntry(Message.User("more"))]));

        Assert.True(store.ReadOnly);
        Assert.Equal(2, head.LastSequence);
        Assert.Equal(2, entries.Count);
        Assert.Equal(8, write.SqliteErrorCode); // SQLITE_READONLY
        SqliteConnection.ClearAllPools();
        Assert.Equal(bytes, await File.ReadAllBytesAsync(DbPath));
        Assert.Equal("delete", await ScalarAsync("PRAGMA journal_mode"));
    }

    [Fact]
    public async Task A_store_opened_read_only_still_refuses_a_newer_schema_and_names_the_file()
    {
        await WriteOneTurnAsync();
        await ScalarAsync("INSERT INTO schema_version (version) VALUES (99)");
        SqliteConnection.ClearAllPools();

        var error = await Assert.ThrowsAsync<LedgerException>(() => new SqliteConversationStore(ReadOnlyStore).GetHeadAsync(new ThreadKey("t", "s", "x")));

        Assert.Equal($"the database {DbPath} has schema version 99, newer than this library's 1; upgrade ConversationLedger.Sqlite", error.Message);
    }

    [Fact]
    public async Task A_store_opened_read_only_on_a_database_without_the_ledgers_tables_says_so_and_creates_none()
    {
        await ScalarAsync("CREATE TABLE other (x)");
        SqliteConnection.ClearAllPools();

        var error = await Assert.ThrowsAsync<LedgerException>(() => new SqliteConversationStore(ReadOnlyStore).ListThreadsAsync("t", null, new PageRequest()));

        Assert.Contains($"the database {DbPath} holds no ledger", error.Message, StringComparison.Ordinal);
        Assert.Equal(0L, await ScalarAsync("SELECT COUNT(*) FROM sqlite_master WHERE name = 'threads'"));
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task A_file_nobody_may_write_is_read_and_nothing_is_left_beside_it()
    {
        var key = await WriteOneTurnAsync();
        File.SetUnixFileMode(DbPath, UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        try
        {
            var store = new SqliteConversationStore(ReadOnlyStore);

            var head = await store.GetHeadAsync(key);
            var threads = await store.ListThreadsAsync("t", null, new PageRequest());

            Assert.Equal(2, head.LastSequence);
            Assert.Single(threads.Threads);
            // A -shm created beside a file nobody may write would be read-only too, and would stop the owner's next write.
            Assert.Equal(["ledger.db"], Directory.GetFiles(_directory).Select(Path.GetFileName));
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            File.SetUnixFileMode(DbPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }

    [Fact]
    public void A_blank_path_is_refused_naming_the_parameter()
    {
        var error = Assert.Throws<ArgumentException>(() => new SqliteConversationStore(" "));

        Assert.Equal("pathOrConnectionString", error.ParamName);
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
