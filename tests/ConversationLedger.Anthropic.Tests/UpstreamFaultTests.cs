using System.Globalization;
using Xunit.Abstractions;

namespace ConversationLedger.Anthropic.Tests;

/// <summary>
/// Upstream faults during load: concurrent writers send turns (half of them streamed) through the SDK adapter to the emulator,
/// which fails a random share of them (429, 529, 500, a dropped connection, a cut stream, an error event, a slow first token;
/// SDK retries off). Every acknowledged turn is stored once, every failed turn stores nothing of itself (a streamed call the API
/// already billed may leave its usage as an uncommitted entry, as docs/cli.md promises), and every history validates.
/// 12 writers × 6 turns per store in CI; LEDGER_LONG_TESTS=1 runs 64 writers × 40 turns (docs/reliability.md).
/// </summary>
public sealed class UpstreamFaultTests(EmulatorFixture fixture, ITestOutputHelper output) : IClassFixture<EmulatorFixture>, IDisposable
{
    private static readonly bool LongTests = Environment.GetEnvironmentVariable("LEDGER_LONG_TESTS") == "1";
    private static readonly (int Threads, int WritersPerThread, int TurnsPerWriter) Load = LongTests ? (16, 4, 40) : (4, 3, 6);

    // Weighted: about half the turns meet no fault.
    private static readonly string[] Faults = ["none", "none", "none", "none", "none", "none", "ttft:30", "429:1", "529", "500", "drop", "cut:2", "error-event:2"];

    private readonly TestStores _stores = new();

    [SkippableTheory]
    [MemberData(nameof(TestStores.Kinds), MemberType = typeof(TestStores))]
    public async Task Random_upstream_faults_under_load_lose_no_acknowledged_turn_and_store_nothing_of_a_failed_one(string kind)
    {
        // Given a ledger over the store whose model calls meet faults chosen per turn
        var store = await _stores.OpenAsync(kind);
        using var http = new HttpClient(new FaultHeaderHandler()) { Timeout = Timeout.InfiniteTimeSpan };
        var model = new AnthropicModelClient(new AnthropicModelClientOptions
        {
            ApiKey = EmulatorFixture.ApiKey, BaseUrl = fixture.Url, MaxRetries = 0, Timeout = TimeSpan.FromSeconds(30), HttpClient = http,
        });
        var ledger = new Ledger(store, model, new LedgerOptions { HistoryPolicy = KeepAllPolicy.Instance, OnConflict = ConflictHandling.WaitAndRetry });
        var seed = Environment.GetEnvironmentVariable("LEDGER_FUZZ_SEED") is { } s ? int.Parse(s, CultureInfo.InvariantCulture) : 20261202;
        var outcomes = new System.Collections.Concurrent.ConcurrentBag<Outcome>();

        // When the writers send all their turns at once
        await Task.WhenAll(Enumerable.Range(0, Load.Threads * Load.WritersPerThread).Select(w => Task.Run(async () =>
        {
            var random = new Random(seed + w);
            var thread = w % Load.Threads;
            var chat = ledger.Open(new ThreadKey(_stores.Tenant, "faults", $"t{thread}"));
            for (var n = 0; n < Load.TurnsPerWriter; n++)
            {
                var fault = Faults[random.Next(Faults.Length)];
                var streamed = random.Next(2) == 0;
                var text = $"w{w} n{n} {fault}";
                FaultHeaderHandler.Fault.Value = fault;
                try
                {
                    await SendAsync(chat, text, streamed);
                    outcomes.Add(new Outcome(thread, text, fault, streamed, null));
                }
                catch (Exception ex)
                {
                    outcomes.Add(new Outcome(thread, text, fault, streamed, ex));
                }
            }
        })));

        // Then only the model's failures failed, and the stores hold exactly the acknowledged turns
        var unexpected = outcomes.Where(o => o.Error is not null and not ModelCallException).ToList();
        Assert.True(unexpected.Count == 0, string.Join("\n", unexpected.Select(o => $"{o.Text}: {o.Error}")));
        Assert.All(outcomes.Where(o => o.Fault is "none" or "ttft:30"), o => Assert.Null(o.Error));
        Assert.All(outcomes.Where(o => o.Fault is "429:1" or "529" or "500" or "drop"), o => Assert.NotNull(o.Error));
        var uncommitted = 0;
        for (var t = 0; t < Load.Threads; t++)
        {
            var entries = await ReadAllAsync(store, new ThreadKey(_stores.Tenant, "faults", $"t{t}"));
            var messages = entries.OfType<MessageEntry>().Select(m => m.Message).ToList();
            Assert.Empty(ConversationValidator.Validate(messages, ValidationOptions.StrictHistory));
            var acked = outcomes.Where(o => o.Thread == t && o.Error is null).Select(o => o.Text).Order(StringComparer.Ordinal);
            Assert.Equal(acked, messages.Where(m => m.Role == Role.User).Select(m => m.Text).Order(StringComparer.Ordinal));
            var unbound = entries.OfType<UsageEntry>().Where(u => u.Record.Uncommitted is not null).ToList();
            Assert.All(unbound, u => Assert.Equal("interrupted", u.Record.Uncommitted));
            uncommitted += unbound.Count;
        }
        // Only a stream the API had started (and billed) can leave a usage entry behind.
        Assert.True(uncommitted <= outcomes.Count(o => o.Error is not null && o.Streamed), $"{uncommitted} uncommitted usage entries");
        output.WriteLine($"{kind}: {outcomes.Count} turns, {outcomes.Count(o => o.Error is null)} acknowledged and stored once, "
            + $"{outcomes.Count(o => o.Error is not null)} failed and stored nothing, {uncommitted} billed calls logged as uncommitted; by fault: "
            + string.Join(", ", outcomes.GroupBy(o => o.Fault).OrderBy(g => g.Key, StringComparer.Ordinal)
                .Select(g => $"{g.Key} {g.Count(o => o.Error is null)} ok / {g.Count(o => o.Error is not null)} failed")));
    }

    public void Dispose()
    {
        _stores.Dispose();
        fixture.Emulator.Reset();
    }

    private static async Task SendAsync(Conversation chat, string text, bool streamed)
    {
        if (!streamed)
        {
            await chat.SendAsync(text);
            return;
        }
        await foreach (var _ in chat.StreamAsync(text))
        {
        }
    }

    private static async Task<List<LedgerEntry>> ReadAllAsync(IConversationStore store, ThreadKey key)
    {
        var entries = new List<LedgerEntry>();
        await foreach (var entry in store.ReadAllAsync(key))
        {
            entries.Add(entry);
        }
        return entries;
    }

    private sealed record Outcome(int Thread, string Text, string Fault, bool Streamed, Exception? Error);

    /// <summary>Asks the emulator for the fault the current turn drew (the header wins over its schedule).</summary>
    private sealed class FaultHeaderHandler() : DelegatingHandler(new SocketsHttpHandler())
    {
        public static readonly AsyncLocal<string?> Fault = new();

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (Fault.Value is { } fault && request.RequestUri?.AbsolutePath == "/v1/messages")
            {
                request.Headers.TryAddWithoutValidation("x-emulator-fault", fault);
            }
            return base.SendAsync(request, cancellationToken);
        }
    }
}
