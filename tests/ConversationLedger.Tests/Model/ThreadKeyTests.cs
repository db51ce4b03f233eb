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
}
