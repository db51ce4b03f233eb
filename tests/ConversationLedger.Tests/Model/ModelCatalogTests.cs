using System.Text;

namespace ConversationLedger.Tests.Model;

public sealed class ModelCatalogTests
{
    private static readonly ModelCatalog Catalog = new([
        new ModelInfo { Id = "test-model", Aliases = ["test-model-20260101"], ContextWindow = 1_000_000, MaxOutput = 128_000, InputPerMTok = 2m, OutputPerMTok = 10m },
    ]);

    [Fact]
    public void Cost_prices_input_and_output_at_the_base_rates()
    {
        var usage = new TokenUsage { InputTokens = 1_000_000, OutputTokens = 1_000_000 };

        Assert.Equal(12m, Catalog.Cost("test-model", usage));
    }

    [Fact]
    public void Cost_prices_five_minute_cache_writes_at_one_and_a_quarter_times_input()
    {
        var usage = new TokenUsage { CacheCreationInputTokens = 1_000_000, CacheCreation5mInputTokens = 1_000_000 };

        Assert.Equal(2.5m, Catalog.Cost("test-model", usage));
    }

    [Fact]
    public void Cost_prices_one_hour_cache_writes_at_twice_input()
    {
        var usage = new TokenUsage { CacheCreationInputTokens = 1_000_000, CacheCreation1hInputTokens = 1_000_000 };

        Assert.Equal(4m, Catalog.Cost("test-model", usage));
    }

    [Fact]
    public void Cost_prices_cache_reads_at_a_tenth_of_input()
    {
        var usage = new TokenUsage { CacheReadInputTokens = 1_000_000 };

        Assert.Equal(0.2m, Catalog.Cost("test-model", usage));
    }

    [Fact]
    public void Cost_adds_every_part_of_a_call_together()
    {
        var usage = new TokenUsage
        {
            InputTokens = 1_000, OutputTokens = 500,
            CacheCreationInputTokens = 3_000, CacheCreation5mInputTokens = 1_000, CacheCreation1hInputTokens = 2_000,
            CacheReadInputTokens = 10_000,
        };

        // (1000 + 1000×1.25 + 2000×2 + 10000×0.1) × $2 + 500 × $10, per million
        Assert.Equal((1_000m + 1_250m + 4_000m + 1_000m) * 2m / 1_000_000m + 5_000m / 1_000_000m, Catalog.Cost("test-model", usage));
    }

    [Fact]
    public void Cost_bills_a_cache_write_without_a_ttl_split_at_the_five_minute_rate()
    {
        var usage = new TokenUsage { CacheCreationInputTokens = 1_000_000 };

        Assert.Equal(2.5m, Catalog.Cost("test-model", usage));
    }

    [Fact]
    public void Cost_finds_a_model_by_its_alias()
    {
        Assert.Equal(2m, Catalog.Cost("test-model-20260101", new TokenUsage { InputTokens = 1_000_000 }));
    }

    [Fact]
    public void Cost_is_zero_for_a_model_the_table_does_not_know()
    {
        Assert.Equal(0m, Catalog.Cost("claude-unknown", new TokenUsage { InputTokens = 1_000_000 }));
    }

    [Fact]
    public void Get_throws_for_a_model_the_table_does_not_know()
    {
        var ex = Assert.Throws<UnknownModelException>(() => Catalog.Get("claude-unknown"));

        Assert.Equal("claude-unknown", ex.Model);
    }

    [Fact]
    public void The_built_in_table_has_the_default_model_with_its_prices()
    {
        var sonnet = ModelCatalog.Default.Get(new LedgerOptions().Model);

        Assert.Equal(1_000_000, sonnet.ContextWindow);
        Assert.Equal(2m, sonnet.InputPerMTok);
        Assert.Equal(10m, sonnet.OutputPerMTok);
    }

    [Fact]
    public void Load_reads_a_table_from_json_with_comments()
    {
        var json = """
            // hosts override the built-in table
            { "models": [ { "id": "m1", "contextWindow": 200000, "maxOutput": 64000, "inputPerMTok": 3, "outputPerMTok": 15, "supportsPrefill": true }, ] }
            """;

        var catalog = ModelCatalog.Load(new MemoryStream(Encoding.UTF8.GetBytes(json)));

        var model = catalog.Get("m1");
        Assert.Equal(200_000, model.ContextWindow);
        Assert.True(model.SupportsPrefill);
        Assert.Equal(1024, model.MinCacheableTokens);
    }

    [Fact]
    public void A_table_may_not_name_one_id_twice()
    {
        var ex = Assert.Throws<ArgumentException>("models", () => new ModelCatalog([
            new ModelInfo { Id = "a", ContextWindow = 1, MaxOutput = 1 },
            new ModelInfo { Id = "b", Aliases = ["a"], ContextWindow = 1, MaxOutput = 1 },
        ]));

        Assert.Contains("model id a appears twice", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Cost_guards_against_null_usage()
    {
        Assert.Throws<ArgumentNullException>("usage", () => Catalog.Cost("test-model", null!));
    }
}
