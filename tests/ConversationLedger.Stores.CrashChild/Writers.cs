using System.Globalization;
using System.Runtime.CompilerServices;

namespace ConversationLedger.Stores.CrashChild;

/// <summary>
/// Concurrent writers in one process, each sending turns one after another through its own <see cref="Ledger"/> with
/// <see cref="ConflictHandling.Throw"/> until the time is up, each turn on a thread picked at random. A turn refused because another is in flight
/// (in this process or another) is sent again after 5–50 ms, as an application would. Prints "ready" once the store
/// answers and starts when a line arrives on standard input, so every process starts together. Then one line per turn:
/// "ack &lt;thread&gt; &lt;user sequence&gt; &lt;text&gt;" when acknowledged, "error &lt;text&gt; &lt;exception&gt;" when a turn failed otherwise
/// (its writer stops: whether it was stored is then unknown); at the end "calls &lt;model calls&gt;" and "refused &lt;n&gt;".
/// </summary>
internal static class Writers
{
    public static async Task<int> RunAsync(string[] args)
    {
        var (kind, connection, tenant, scope) = (args[0], args[1], args[2], args[3]);
        var threads = int.Parse(args[4], CultureInfo.InvariantCulture);
        var writers = int.Parse(args[5], CultureInfo.InvariantCulture);
        var duration = TimeSpan.FromSeconds(double.Parse(args[6], CultureInfo.InvariantCulture));
        var name = args[7];
        var store = ChildStores.Open(kind, connection);
        var options = new LedgerOptions { HistoryPolicy = KeepAllPolicy.Instance, PromptCaching = false, PinFirstExchange = false, OnConflict = ConflictHandling.Throw };
        // One turn on a thread of its own first, so the start does not measure connecting and compiling.
        await new Ledger(store, new CountingModel(), options).Open(new ThreadKey(tenant, scope, $"warm-up {name}")).SendAsync("warm up");
        var model = new CountingModel();
        var output = TextWriter.Synchronized(Console.Out);
        var refused = 0;
        output.WriteLine("ready");
        output.Flush();
        await Console.In.ReadLineAsync();
        var deadline = DateTime.UtcNow + duration;

        await Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            var ledger = new Ledger(store, model, options);
            var random = new Random(HashCode.Combine(name, w));
            for (var n = 1; DateTime.UtcNow < deadline; n++)
            {
                var thread = random.Next(threads);
                var text = $"{name} w{w} n{n}";
                // A refused turn stored nothing, so the writer may give it up when the time is up.
                while (DateTime.UtcNow < deadline)
                {
                    try
                    {
                        var result = await ledger.Open(new ThreadKey(tenant, scope, $"t{thread}")).SendAsync(text);
                        output.WriteLine($"ack {thread} {result.User.Sequence} {text}");
                        break;
                    }
                    catch (ConcurrencyConflictException ex) when (ex.TurnInFlight)
                    {
                        Interlocked.Increment(ref refused);
                        await Task.Delay(Random.Shared.Next(5, 51));
                    }
                    catch (Exception ex)
                    {
                        output.WriteLine($"error {text} {ex.GetType().Name}: {ex.Message.ReplaceLineEndings(" ")}");
                        return;
                    }
                }
            }
        })));
        output.WriteLine($"calls {model.Calls}");
        output.WriteLine($"refused {refused}");
        output.Flush();
        return 0;
    }

    /// <summary>A model that answers after a millisecond or two and counts its calls.</summary>
    private sealed class CountingModel : IModelClient
    {
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public async Task<ModelResponse> SendAsync(ModelRequest request, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _calls);
            await Task.Delay(Random.Shared.Next(1, 3), cancellationToken);
            return new ModelResponse("msg", request.Model, Message.Assistant("ok"), "end_turn", new TokenUsage { InputTokens = 10, OutputTokens = 1 }, null);
        }

        public async IAsyncEnumerable<ModelStreamEvent> StreamAsync(ModelRequest request, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            yield return new StreamCompleted(await SendAsync(request, cancellationToken));
        }

        public Task<long> CountTokensAsync(ModelRequest request, CancellationToken cancellationToken = default) => Task.FromResult(10L);
    }
}
