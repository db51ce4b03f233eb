using ConversationLedger.Tests.TestSupport;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Outcome = ConversationLedger.Tests.TestSupport.Outcome;

namespace ConversationLedger.Tests.Properties;

/// <summary>What one step of a random script does to the thread.</summary>
public enum Step
{
    /// <summary>A send whose model call answers.</summary>
    Succeeds,
    /// <summary>A send whose model call fails with an API error.</summary>
    ModelFails,
    /// <summary>A send cancelled while its model call is in flight.</summary>
    Cancelled,
    /// <summary>A send whose model answers with a message the ledger cannot store (no content).</summary>
    InvalidReply,
    /// <summary>Two sends whose model calls are in flight at the same time.</summary>
    ConcurrentPair,
}

/// <summary>A random script: how the ledger handles conflicts and the steps, in order.</summary>
public sealed record Script(ConflictHandling OnConflict, IReadOnlyList<Step> Steps)
{
    public override string ToString() => $"{OnConflict}: [{string.Join(", ", Steps)}]";
}

public static class Scripts
{
    public static Arbitrary<Script> Arbitrary()
    {
        var steps = Gen.Frequency(
            (4, Gen.Constant(Step.Succeeds)),
            (1, Gen.Constant(Step.ModelFails)),
            (1, Gen.Constant(Step.Cancelled)),
            (1, Gen.Constant(Step.InvalidReply)),
            (2, Gen.Constant(Step.ConcurrentPair)));
        var script =
            from onConflict in Gen.Elements(ConflictHandling.Throw, ConflictHandling.WaitAndRetry)
            from count in Gen.Choose(0, 12)
            from list in Gen.ArrayOf(steps, count)
            select new Script(onConflict, list);
        return Arb.From(script, Shrink);
    }

    // Shorter scripts first: drop one step at a time.
    private static IEnumerable<Script> Shrink(Script script) =>
        Enumerable.Range(0, script.Steps.Count)
            .Select(i => script with { Steps = script.Steps.Where((_, j) => j != i).ToArray() });
}

public sealed class LedgerPropertyTests
{
    [Property(MaxTest = 100, Arbitrary = [typeof(Scripts)])]
    public async Task Every_acknowledged_turn_is_stored_exactly_once_in_order_and_the_history_stays_strictly_valid(Script script)
    {
        // Given a ledger whose fake model behaves as each step says, keyed by the text of the message it answers
        var t = new TestLedger(TestLedger.PlainLoop(script.OnConflict));
        var behaviour = new Dictionary<string, Func<CancellationToken, Task<ModelResponse>>>();
        t.Model.SendAsyncCallback = (request, ct) => behaviour[request.Messages[^1].Text](ct);
        var acknowledged = new List<string>();

        // When the steps run one after the other
        for (var i = 0; i < script.Steps.Count; i++)
        {
            var text = $"m{i}";
            switch (script.Steps[i])
            {
                case Step.Succeeds:
                    behaviour[text] = _ => Task.FromResult(FakeModel.Respond("re: " + text));
                    await t.Conversation.SendAsync(text);
                    acknowledged.Add(text);
                    break;

                case Step.ModelFails:
                    behaviour[text] = _ => throw new ModelCallException("Overloaded", 529, "overloaded_error");
                    await Assert.ThrowsAsync<ModelCallException>(() => t.Conversation.SendAsync(text));
                    break;

                case Step.InvalidReply:
                    behaviour[text] = _ => Task.FromResult(FakeModel.Respond(new Message(Role.Assistant, [])));
                    await Assert.ThrowsAsync<ModelCallException>(() => t.Conversation.SendAsync(text));
                    break;

                case Step.Cancelled:
                    using (var cts = new CancellationTokenSource())
                    {
                        behaviour[text] = async ct =>
                        {
                            await cts.CancelAsync();
                            await Task.Delay(Timeout.Infinite, ct);
                            throw new InvalidOperationException("unreachable");
                        };
                        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => t.Conversation.SendAsync(text, cts.Token));
                    }
                    break;

                case Step.ConcurrentPair:
                    acknowledged.AddRange(await RunPairAsync(t, behaviour, script.OnConflict, text + "a", text + "b"));
                    break;
            }

            // Then after every step the stored history is a valid strict alternation
            Assert.Empty(ConversationValidator.Validate(await t.MessagesAsync(), ValidationOptions.StrictHistory));
        }

        // Then every acknowledged turn is there exactly once, in the order it was acknowledged, and nothing else is
        var messages = await t.MessagesAsync();
        Assert.Equal(acknowledged, messages.Where(m => m.Role == Role.User).Select(m => m.Text));
        Assert.Equal(acknowledged.Select(a => "re: " + a), messages.Where(m => m.Role == Role.Assistant).Select(m => m.Text));
        var all = await t.EntriesAsync();
        // Billed calls of turns that were not stored (a refused reply, a lost conflict) are usage entries of their own.
        var entries = all.Where(e => e is not UsageEntry { Record.Uncommitted: not null }).ToArray();
        Assert.All(all.Except(entries), e => Assert.Contains(((UsageEntry)e).Record.Uncommitted, new[] { "refused", "conflict" }));
        Assert.Equal(acknowledged.Count * 3, entries.Length);
        Assert.All(entries.Chunk(3), turn =>
        {
            Assert.Equal([EntryKind.Message, EntryKind.Message, EntryKind.Usage], turn.Select(e => e.Kind));
            Assert.Single(turn.Select(e => e.TurnId).Distinct());
        });
        Assert.Equal(acknowledged.Count, entries.Select(e => e.TurnId).Distinct().Count());
        Assert.Equal(Enumerable.Range(1, all.Count).Select(n => (long)n), all.Select(e => e.Sequence));
    }

    private static async Task<IEnumerable<string>> RunPairAsync(
        TestLedger t, Dictionary<string, Func<CancellationToken, Task<ModelResponse>>> behaviour,
        ConflictHandling onConflict, string first, string second)
    {
        // The first holds the thread's lease: with Throw the second is refused before calling the model, with
        // WaitAndRetry it waits for the first.
        var gate = new Gate(expected: 1);
        foreach (var text in new[] { first, second })
        {
            behaviour[text] = async ct =>
            {
                await gate.PassAsync(ct);
                return FakeModel.Respond("re: " + text);
            };
        }
        var sends = new[] { Outcome.Of(t.Conversation.SendAsync(first)), Outcome.Of(t.Conversation.SendAsync(second)) };
        await gate.AllArrived;
        gate.Open();
        var outcomes = await Task.WhenAll(sends);

        var committed = outcomes.Where(o => o.Turn is not null).ToArray();
        if (onConflict == ConflictHandling.Throw)
        {
            Assert.Single(committed);
            Assert.True(Assert.IsType<ConcurrencyConflictException>(Assert.Single(outcomes, o => o.Error is not null).Error).TurnInFlight);
        }
        else
        {
            Assert.Equal(2, committed.Length);
        }
        return committed.OrderBy(o => o.Turn!.User.Sequence).Select(o => o.Turn!.User.Message.Text);
    }
}
