using ConversationLedger.Emulator;
using ConversationLedger.Stores.Tests;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace ConversationLedger.Extensions.DependencyInjection.Tests;

/// <summary>A generic host resolving the ledger from the container, against the in-process emulator over HTTP.</summary>
public sealed class HostingTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("ledger-di-").FullName;

    private string DbPath => Path.Combine(_directory, "ledger.db");

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    private static async Task<IHost> StartAsync(Action<HostApplicationBuilder> configure)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        configure(builder);
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }

    [Fact]
    public async Task A_host_resolves_a_ledger_on_a_SQLite_file_that_remembers_across_hosts()
    {
        var key = new ThreadKey("acme", "ticket-42", "main");
        using (var first = await StartAsync(b => b.Services.AddConversationLedger(o => o.MaxTokens = 300).UseSqlite(DbPath).UseEmulator()))
        {
            await first.Services.GetRequiredService<Ledger>().Open(key).SendAsync("My name is Hesham.");
            await first.StopAsync();
        }

        using var second = await StartAsync(b => b.Services.AddConversationLedger(o => o.MaxTokens = 300).UseSqlite(DbPath).UseEmulator());
        var ledger = second.Services.GetRequiredService<Ledger>();
        var turn = await ledger.Open(key).SendAsync("What is my name?");

        Assert.Equal(300, ledger.Options.MaxTokens);
        Assert.Equal(3, turn.Request.Request.Messages.Count); // the first host's turn, then the new question
        Assert.Contains("My name is Hesham.", second.Services.GetRequiredService<EmulatorServer>().Requests.Snapshot()[^1].Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Settings_bind_from_an_appsettings_json_section()
    {
        var json = Path.Combine(_directory, "appsettings.json");
        await File.WriteAllTextAsync(json, $$"""
            {
              "ConversationLedger": {
                "Model": "claude-haiku-4-5",
                "MaxTokens": 512,
                "Policy": "window:6/2",
                "OnConflict": "WaitAndRetry",
                "PromptCaching": false,
                "Thinking": { "Mode": "Off" },
                "Effort": "low"
              }
            }
            """);

        using var host = await StartAsync(b =>
        {
            b.Configuration.AddJsonFile(json);
            b.Services.AddConversationLedger(b.Configuration.GetSection("ConversationLedger")).UseInMemory().UseEmulator();
        });
        var ledger = host.Services.GetRequiredService<Ledger>();
        var turn = await ledger.Open(new ThreadKey("t", "s", "config")).SendAsync("hello");

        Assert.Equal("claude-haiku-4-5", ledger.Options.Model);
        Assert.Equal(ConflictHandling.WaitAndRetry, ledger.Options.OnConflict);
        Assert.Equal(ThinkingMode.Off, ledger.Options.Thinking!.Mode);
        Assert.IsType<SlidingWindowPolicy>(ledger.Policy);
        Assert.Equal(512, turn.Request.Request.MaxTokens);
        Assert.Empty(turn.Request.Breakpoints);
    }

    [Theory]
    [InlineData("MaxTokens", "0", "ConversationLedger:MaxTokens must be positive, not 0")]
    [InlineData("Policy", "sideways", "ConversationLedger:Policy: unknown history policy \"sideways\"")]
    [InlineData("Effort", "extreme", "ConversationLedger:Effort must be one of low, medium, high, max, not 'extreme'")]
    [InlineData("Thinking:BudgetTokens", "10", "ConversationLedger:Thinking:BudgetTokens must be at least 1024")]
    public async Task Bad_configuration_stops_the_host_at_start_naming_the_setting(string setting, string value, string message)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConversationLedger:Thinking:Mode"] = "Budget",
            ["ConversationLedger:Thinking:BudgetTokens"] = "2048",
            [$"ConversationLedger:{setting}"] = value,
        });
        builder.Services.AddConversationLedger(builder.Configuration.GetSection("ConversationLedger")).UseInMemory().UseEmulator();
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Settings_set_in_code_are_checked_at_start_too()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddConversationLedger(o => o.WarnAtFill = 2).UseInMemory().UseEmulator();
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("ConversationLedger:WarnAtFill must be above 0 and at most 1, not 2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_ledger_without_a_store_says_which_call_is_missing()
    {
        using var host = await StartAsync(b => b.Services.AddConversationLedger().UseEmulator());

        var error = Assert.Throws<InvalidOperationException>(() => host.Services.GetRequiredService<Ledger>());

        Assert.Contains("UseSqlite, UsePostgres, UseRedis or UseInMemory", error.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task A_host_resolves_a_ledger_on_PostgreSQL()
    {
        await Servers.PostgresAsync(); // skips (or fails in CI) without a server
        using var host = await StartAsync(b => b.Services.AddConversationLedger().UsePostgres(Servers.Postgres).UseEmulator());

        await AssertRemembersAsync(host, "pg");
    }

    [SkippableFact]
    public async Task A_host_resolves_a_ledger_on_Redis()
    {
        await Servers.RedisAsync();
        using var host = await StartAsync(b => b.Services.AddConversationLedger().UseRedis(Servers.Redis).UseEmulator());

        await AssertRemembersAsync(host, "redis");
    }

    [Fact]
    public async Task A_host_resolves_a_ledger_in_memory_with_an_emulator_it_reaches_by_url()
    {
        await using var emulator = new EmulatorServer();
        var url = await emulator.StartAsync();
        using var host = await StartAsync(b => b.Services.AddConversationLedger().UseInMemory().UseEmulator(url));

        await AssertRemembersAsync(host, "memory");
        Assert.Equal(2, emulator.Requests.Count);
    }

    private static async Task AssertRemembersAsync(IHost host, string store)
    {
        var ledger = host.Services.GetRequiredService<Ledger>();
        var key = new ThreadKey($"di-tests-{Guid.NewGuid():N}", store, "main");
        var chat = ledger.Open(key);
        await chat.SendAsync("The code word is teal.");

        var turn = await chat.SendAsync("What is the code word?");

        Assert.Equal(3, turn.Request.Request.Messages.Count);
        Assert.Equal(4, (await chat.LoadAsync()).MessageCount);
        await ledger.Store.DeleteThreadAsync(key);
    }
}
