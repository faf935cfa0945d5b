using TrajectoryTransfer.Samples.Cli;

namespace TrajectoryTransfer.Samples.Tests;

/// <summary>What each preset sets when the command line leaves an option out, and that an explicit option wins.</summary>
public sealed class PresetSettingsTests
{
    private static SampleSettings Bind(params string[] args)
    {
        var command = new SampleCommand();
        var root = command.Create(_ => 0);
        var parse = root.Parse(args);
        Assert.Empty(parse.Errors);
        return command.Bind(parse);
    }

    [Theory]
    [InlineData("random")]
    [InlineData("pretrained")]
    public void Conv_ScoresStepsOn500ImagesAfterThreeBatchNormBatches(string scenario)
    {
        var settings = Bind("--preset", "conv", "--scenario", scenario);

        Assert.Equal(500, settings.ValidationLimit);
        Assert.Equal(3, settings.BatchNormRefreshBatches);
    }

    [Fact]
    public void Conv_ExplicitScoringOptions_OverrideThePreset()
    {
        var settings = Bind("--preset", "conv", "--validation-limit", "2000", "--batch-norm-refresh", "10");

        Assert.Equal(2000, settings.ValidationLimit);
        Assert.Equal(10, settings.BatchNormRefreshBatches);
    }

    [Theory]
    [InlineData("quick")]
    [InlineData("paper")]
    public void OtherPresets_ScoreOnEveryValidationImageWithTheLibraryDefault(string preset)
    {
        var settings = Bind("--preset", preset);

        Assert.Null(settings.ValidationLimit);
        Assert.Equal(10, settings.BatchNormRefreshBatches);
    }

    [Fact]
    public void BatchNormRefresh_Negative_IsRefused()
    {
        var parse = new SampleCommand().Create(_ => 0).Parse(["--batch-norm-refresh", "-1"]);

        Assert.Contains(parse.Errors, e => e.Message.Contains("--batch-norm-refresh", StringComparison.Ordinal));
    }

    [Fact]
    public void Conv_FineTuning_IsConstantUnlessACosineScheduleIsAsked()
    {
        var preset = Bind("--preset", "conv", "--scenario", "pretrained");
        var cosine = Bind("--preset", "conv", "--scenario", "pretrained", "--fine-tune-optimizer", "sgd", "--fine-tune-schedule", "cosine");

        Assert.Equal(TrajectoryTransfer.Samples.Experiments.LearningRateSchedule.Constant, preset.FineTuneRecipe.Schedule);
        Assert.Equal(TrajectoryTransfer.Samples.Experiments.LearningRateSchedule.Cosine, cosine.FineTuneRecipe.Schedule);
        Assert.Equal(0, cosine.FineTuneRecipe.WarmupEpochs);
        Assert.Equal(cosine.TrainRecipe.LearningRate, cosine.FineTuneRecipe.LearningRate);
        Assert.Equal(TrajectoryTransfer.Samples.Experiments.LearningRateSchedule.Cosine, cosine.TrainRecipe.Schedule);
    }

    [Fact]
    public void NormalizePairs_IsOffUnlessAsked()
    {
        Assert.False(Bind("--preset", "conv").NormalizePairs);
        Assert.True(Bind("--preset", "conv", "--normalize-pairs").NormalizePairs);
    }

    [Fact]
    public void Conv_Random_TrainsSixEpochsAndFineTunesAsMany_Pretrained_FourAndFour()
    {
        var random = Bind("--preset", "conv", "--scenario", "random");
        var pretrained = Bind("--preset", "conv", "--scenario", "pretrained");

        Assert.Equal((6, 6), (random.Epochs, random.FineTuneEpochs));
        Assert.Equal((4, 4, 4), (pretrained.PretrainEpochs, pretrained.Epochs, pretrained.FineTuneEpochs));
    }

    [Fact]
    public void Methods_AllFourByDefault_ButNoOracleInTheConvRandomScenario_UnlessAsked()
    {
        Assert.Equal(4, Bind("--preset", "quick").Methods.Count);
        Assert.Equal(4, Bind("--preset", "conv", "--scenario", "pretrained").Methods.Count);
        Assert.DoesNotContain(TrajectoryTransfer.TransferMethod.Oracle, Bind("--preset", "conv", "--scenario", "random").Methods);
        Assert.Contains(TrajectoryTransfer.TransferMethod.Oracle, Bind("--preset", "conv", "--methods", "fgmt,oracle").Methods);
    }
}
