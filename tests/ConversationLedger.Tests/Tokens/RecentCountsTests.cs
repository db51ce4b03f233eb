namespace ConversationLedger.Tests.Tokens;

public sealed class RecentCountsTests
{
    private int _counted;

    private int Count(string text)
    {
        _counted++;
        return O200kTokenCounter.CountText(text);
    }

    [Fact]
    public void A_text_counted_before_is_answered_from_memory_with_the_same_count()
    {
        var recent = new RecentCounts(maxChars: 10_000);
        var text = new string('a', 40) + " and a sentence long enough to be worth remembering.";

        var first = recent.GetOrCount(text, Count);
        var second = recent.GetOrCount(new string(text.AsSpan()), Count);

        Assert.Equal(first, second);
        Assert.Equal(1, _counted);
    }

    [Fact]
    public void Short_texts_and_texts_too_large_to_hold_are_counted_every_time()
    {
        var recent = new RecentCounts(maxChars: 1_600);
        var small = "short";
        var large = string.Join(' ', Enumerable.Repeat("word", 40));

        recent.GetOrCount(small, Count);
        recent.GetOrCount(small, Count);
        recent.GetOrCount(large, Count);
        recent.GetOrCount(large, Count);

        Assert.Equal(4, _counted);
    }

    [Fact]
    public void When_full_it_starts_over_and_still_answers_correctly()
    {
        var recent = new RecentCounts(maxChars: 2_000);
        var texts = Enumerable.Range(0, 40).Select(i => $"text number {i}: " + string.Join(' ', Enumerable.Repeat("word", 20 + i % 5))).ToList();

        var counts = texts.Select(t => recent.GetOrCount(t, O200kTokenCounter.CountText)).ToList();
        var again = Enumerable.Reverse(texts).Select(t => recent.GetOrCount(t, Count)).Reverse().ToList();

        Assert.Equal(counts, again);
        // The newest texts were still held (2,000 characters); the oldest were forgotten and counted again.
        Assert.InRange(_counted, 1, texts.Count - 1);
    }
}
