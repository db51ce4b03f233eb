using Microsoft.ML.Tokenizers;

namespace ConversationLedger.Tests.Tokens;

public sealed class TokenCountingTests
{
    private static readonly Tokenizer Exact = TiktokenTokenizer.CreateForEncoding("o200k_base");

    [Theory]
    [InlineData("My name is Ada and my printer is on fire.")]
    [InlineData("def f(x):\n    return x * 2  # ok\n")]
    [InlineData("Déjà vu — 日本語のテキスト 😀 and some emoji")]
    public void Ordinary_text_is_counted_exactly(string text) =>
        Assert.Equal(Exact.CountTokens(text), O200kTokenCounter.CountText(text));

    [Fact]
    public void A_run_without_whitespace_longer_than_the_limit_is_counted_in_slices_close_to_exact()
    {
        // Counted whole, a run like this takes seconds (byte-pair merging is quadratic in its length): it is sliced.
        var blob = Convert.ToBase64String(Enumerable.Range(0, 9_000).Select(i => (byte)(i * 7919 % 251)).ToArray());
        Assert.True(blob.Length > O200kTokenCounter.MaxRun * 10);
        var exact = Exact.CountTokens(blob);
        var sliced = O200kTokenCounter.CountText(blob);
        Assert.InRange(sliced, exact, exact + 2 * (blob.Length / O200kTokenCounter.MaxRun + 1));
    }

    [Fact]
    public void Slices_never_split_a_surrogate_pair()
    {
        var emoji = string.Concat(Enumerable.Repeat("😀", 1500)); // 3,000 chars without whitespace, every cut next to a pair
        Assert.InRange(O200kTokenCounter.CountText(emoji), Exact.CountTokens(emoji) - 4, Exact.CountTokens(emoji) + 8);
    }
}
