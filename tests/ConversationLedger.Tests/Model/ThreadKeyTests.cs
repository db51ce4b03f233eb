namespace ConversationLedger.Tests.Model;

public sealed class ThreadKeyTests
{
    [Fact]
    public void A_key_keeps_its_parts_and_prints_them_as_a_path()
    {
        var key = new ThreadKey("acme", "ticket-42", "t1");

        Assert.Equal("acme/ticket-42/t1", key.ToString());
        Assert.Equal(new ThreadKey("acme", "ticket-42", "t1"), key);
    }

    [Theory]
    [InlineData(null, "s", "t", "tenant")]
    [InlineData("a", null, "t", "scope")]
    [InlineData("a", "s", null, "threadId")]
    public void A_null_part_is_rejected_naming_the_parameter(string? tenant, string? scope, string? thread, string parameter)
    {
        Assert.Throws<ArgumentNullException>(parameter, () => new ThreadKey(tenant!, scope!, thread!));
    }

    [Theory]
    [InlineData("", "s", "t", "tenant")]
    [InlineData("a", "  ", "t", "scope")]
    [InlineData("a", "s", "\t", "threadId")]
    [InlineData("a\n", "s", "t", "tenant")]
    [InlineData("a", "s\u0000", "t", "scope")]
    [InlineData("a", "s", "t\u007f", "threadId")]
    public void A_blank_or_control_character_part_is_rejected_naming_the_parameter(string tenant, string scope, string thread, string parameter)
    {
        Assert.Throws<ArgumentException>(parameter, () => new ThreadKey(tenant, scope, thread));
    }

    [Fact]
    public void A_part_longer_than_the_limit_is_rejected_naming_the_parameter()
    {
        var tooLong = new string('x', ThreadKey.MaxPartLength + 1);

        Assert.Throws<ArgumentException>("threadId", () => new ThreadKey("a", "s", tooLong));
        Assert.Equal(ThreadKey.MaxPartLength, new ThreadKey("a", "s", tooLong[1..]).ThreadId.Length);
    }

    [Fact]
    public void A_part_with_an_unpaired_surrogate_is_rejected_naming_the_part_and_where()
    {
        // Stores encode a lone surrogate as U+FFFD (or fail), so such keys would meet keys of other tenants.
        (string Tenant, string Scope, string Thread, string Part, int Index)[] cases =
        [
            ("S\uD800", "s", "t", "tenant", 1),
            ("a", "\uDC00x", "t", "scope", 0),
            ("a", "s", "t\uDBFF\uDBFF\uDC00", "threadId", 1),
            ("a", "s", "🙂\uD83D", "threadId", 2),
        ];
        foreach (var (tenant, scope, thread, part, index) in cases)
        {
            var error = Assert.Throws<ArgumentException>(part, () => new ThreadKey(tenant, scope, thread));

            Assert.StartsWith($"{part} contains an unpaired surrogate at index {index}", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_part_with_paired_surrogates_and_the_replacement_character_is_accepted()
    {
        var key = new ThreadKey("S\uFFFD", "🙂", "t\uDBFF\uDFFF");

        Assert.Equal("S\uFFFD/🙂/t\uDBFF\uDFFF", key.ToString());
    }
}
