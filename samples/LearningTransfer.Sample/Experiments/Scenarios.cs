using TorchSharp;
using TrajectoryTransfer.Permutations;
using TrajectoryTransfer.Samples.Data;
using TrajectoryTransfer.Trajectories;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Samples.Experiments;

/// <summary>The paper's two scenarios, each preparing a <see cref="TransferProblem"/>.</summary>
public static class Scenarios
{
    /// <summary>Initialization seed offsets: the source is seed + 0, the target seed + 1, ensemble member k seed + 100 + k; fresh output layers seed + 500 and up.</summary>
    private const int TargetSeed = 1;
    private const int EnsembleSeed = 100;
    private const int FreshLayerSeed = 500;

    /// <summary>
    /// Random initializations: train a source from seed s while recording its trajectory; the new initialization is a fresh
    /// network from seed s + 1.
    /// </summary>
    /// <param name="context">The run.</param>
    public static TransferProblem RandomInit(ExperimentContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var seed = context.Settings.Seed;
        var data = context.Data;
        context.Ui.Stage($"Source: train {context.Factory.Name} for {context.Settings.Epochs} epochs, recording its trajectory");
        using var sourceModel = context.Factory.Create(seed);
        var (recorded, run, testAccuracy, validationAccuracy) = TrainSource(context, sourceModel, data, "source");
        using var target = context.Factory.Create(seed + TargetSeed);
        return new TransferProblem
        {
            Data = data,
            Recorded = recorded,
            SourceInit = recorded.GetPoint(0).DetachFromDisposeScope(),
            SourceFinal = recorded.GetPoint(recorded.Count - 1).DetachFromDisposeScope(),
            TargetInit = ParameterSet.FromModule(target).DetachFromDisposeScope(),
            EnsembleInit = k =>
            {
                using var member = context.Factory.Create(seed + EnsembleSeed + k);
                return ParameterSet.FromModule(member).DetachFromDisposeScope();
            },
            SourceTestAccuracy = testAccuracy,
            SourceValidationAccuracy = validationAccuracy,
            SourceTrainSeconds = run.Seconds,
        };
    }

    /// <summary>
    /// Pre-trained initializations (the paper's fine-tuning case): pre-train two networks on classes 0-4 from seeds s and
    /// s + 1; give the first a freshly initialized output layer and fine-tune it on classes 5-9 while recording; the new
    /// initialization is the second pre-trained network, also with a fresh output layer. Ensemble members are further
    /// networks pre-trained on 0-4, each with a fresh output layer.
    /// </summary>
    /// <param name="context">The run.</param>
    public static TransferProblem Pretrained(ExperimentContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var seed = context.Settings.Seed;
        var factory = context.Factory;
        var pretrainData = context.Data.WithClasses(0, 4);
        var fineTuneData = context.Data.WithClasses(5, 9);
        try
        {
            context.Ui.Stage($"Pre-training two {factory.Name} on classes 0-4 ({pretrainData.Train.Count} images, {context.Settings.PretrainEpochs} epochs each)");
            using var sourceModel = factory.Create(seed);
            var sourcePretrain = context.Ui.Train("pre-train source (classes 0-4)", sourceModel, pretrainData.Train, context.Pretraining(40));
            var sourcePretrainedAccuracy = Evaluator.Accuracy(sourceModel, pretrainData.Test);
            using var targetModel = factory.Create(seed + TargetSeed);
            var targetPretrain = context.Ui.Train("pre-train target (classes 0-4)", targetModel, pretrainData.Train, context.Pretraining(41));
            var targetPretrainedAccuracy = Evaluator.Accuracy(targetModel, pretrainData.Test);
            context.Ui.Note($"Pre-trained test accuracy on classes 0-4: source {sourcePretrainedAccuracy:P1}, target {targetPretrainedAccuracy:P1}.");

            // A new task gets a new output layer, on both sides (the paper's setting), seeded apart from every other network.
            factory.ResetLastLayer(sourceModel, seed + FreshLayerSeed);
            factory.ResetLastLayer(targetModel, seed + FreshLayerSeed + 1);
            context.Ui.Stage($"Source: fine-tune the first on classes 5-9 with a fresh output layer ({fineTuneData.Train.Count} images, {context.Settings.Epochs} epochs), recording its trajectory");
            var (recorded, run, testAccuracy, validationAccuracy) = TrainSource(context, sourceModel, fineTuneData, "fine-tune source (classes 5-9)");
            var problem = new TransferProblem
            {
                Data = fineTuneData,
                Recorded = recorded,
                SourceInit = recorded.GetPoint(0).DetachFromDisposeScope(),
                SourceFinal = recorded.GetPoint(recorded.Count - 1).DetachFromDisposeScope(),
                TargetInit = ParameterSet.FromModule(targetModel).DetachFromDisposeScope(),
                EnsembleInit = k =>
                {
                    using var member = factory.Create(seed + EnsembleSeed + k);
                    context.Ui.Train($"pre-train ensemble member {k + 1} (classes 0-4)", member, pretrainData.Train, context.Pretraining(400 + k));
                    factory.ResetLastLayer(member, seed + FreshLayerSeed + 2 + k);
                    return ParameterSet.FromModule(member).DetachFromDisposeScope();
                },
                SourceTestAccuracy = testAccuracy,
                SourceValidationAccuracy = validationAccuracy,
                SourceTrainSeconds = run.Seconds,
                PretrainSeconds = sourcePretrain.Seconds + targetPretrain.Seconds,
                PretrainedTestAccuracy = [sourcePretrainedAccuracy, targetPretrainedAccuracy],
            };
            problem.Own(fineTuneData);
            problem.Own(pretrainData);
            return problem;
        }
        catch
        {
            pretrainData.Dispose();
            fineTuneData.Dispose();
            throw;
        }
    }

    private static (InMemoryTrajectory Recorded, TrainingRun Run, double TestAccuracy, double ValidationAccuracy) TrainSource(
        ExperimentContext context, nn.Module<Tensor, Tensor> model, ExperimentData data, string label)
    {
        var recorded = InMemoryTrajectory.ForModule(model);
        try
        {
            TrainingRun run;
            using (var recorder = new TrajectoryRecorder(model, recorded))
            {
                run = context.Ui.Train(label, model, data.Train, context.FullTraining(10), recorder: recorder);
            }

            var test = Evaluator.Accuracy(model, data.Test);
            var validation = Evaluator.Accuracy(model, data.Validation);
            context.Ui.Note($"Source: test accuracy {test:P2}, validation {validation:P2}, {run.Seconds:F1} s of training; {recorded.Count} checkpoints recorded.");
            return (recorded, run, test, validation);
        }
        catch
        {
            recorded.Dispose();
            throw;
        }
    }
}
