namespace ConversationLedger.Tests.Model;

public sealed class TokenCalibrationTests
{
    [Fact]
    public void A_model_with_no_observations_is_scaled_by_its_tables_starting_factor()
    {
        var calibration = new TokenCalibration();

        Assert.Equal(1300, calibration.Scale("claude-sonnet-5-5", 1000)); // the Claude 5 tokenizer counts ~30 % more
        Assert.Equal(1000, calibration.Scale("claude-haiku-4-5", 1000));
        Assert.Equal(1000, calibration.Scale("a-model-the-table-does-not-know", 1000));
    }

    [Fact]
    public void Repeated_observations_move_the_factor_towards_what_the_API_reports()
    {
        var calibration = new TokenCalibration();

        for (var i = 0; i < 50; i++)
        {
            calibration.Observe("claude-sonnet-5-5", estimate: 1000, reported: 1200);
        }

        Assert.InRange(calibration.FactorFor("claude-sonnet-5-5"), 1.19, 1.2001);
        Assert.Equal(1.3, calibration.FactorFor("claude-opus-5-5"));
    }

    [Fact]
    public void One_wild_observation_cannot_swing_the_factor_far()
    {
        var calibration = new TokenCalibration();

        calibration.Observe("m", estimate: 1000, reported: 1_000_000);

        Assert.InRange(calibration.FactorFor("m"), 1.0, 1.61);
    }
}
