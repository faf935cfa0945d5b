using TorchSharp;
using TrajectoryTransfer.Permutations;
using TrajectoryTransfer.Samples.Reporting;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Samples.Experiments;

/// <summary>
/// The paper's ensemble use case: K members made by one FGMT transfer onto K new initializations (source gradients shared)
/// plus short fine-tuning, against K members trained independently from the same initializations for the full schedule.
/// </summary>
/// <param name="context">The run.</param>
/// <param name="problem">The source and the data.</param>
/// <param name="runner">Runs transfers.</param>
public sealed class EnsembleExperiment(ExperimentContext context, TransferProblem problem, TransferRunner runner)
{
    /// <summary>Builds both ensembles and measures them on the test split.</summary>
    public EnsembleReport Run()
    {
        var settings = context.Settings;
        var members = settings.EnsembleMembers;
        var test = problem.Data.Test;
        context.Ui.Stage($"Ensembles of {members}: FGMT transfer + {settings.FineTuneEpochs} fine-tuning epochs vs {settings.Epochs} epochs of training each");
        var inits = new List<ParameterSet>();
        try
        {
            for (var k = 0; k < members; k++)
            {
                inits.Add(problem.EnsembleInit(k));
            }

            var transferred = Transferred(inits, test);
            var independent = Independent(inits, test);
            context.Ui.Note($"Ensemble test accuracy: transferred {transferred.TestAccuracy:P2} in {transferred.Seconds:F1} s, independent {independent.TestAccuracy:P2} in {independent.Seconds:F1} s.");
            return new EnsembleReport(
                members,
                transferred,
                independent,
                "Seconds count producing the members (transfer, fine-tuning, training), not evaluation. The transferred members reuse the source run, "
                + "whose training is not counted; the pretrained scenario's pre-training of the initializations is not counted on either side.");
        }
        finally
        {
            foreach (var init in inits)
            {
                init.Dispose();
            }
        }
    }

    private EnsembleSideReport Transferred(IReadOnlyList<ParameterSet> inits, Data.MnistSplit test)
    {
        var results = runner.Run(TransferMethod.Fgmt, inits, null, $"FGMT onto {inits.Count} initializations", out var transferSeconds, out _);
        var seconds = transferSeconds;
        var accuracies = new List<double>();
        using var sum = torch.zeros(test.Count, 10, device: context.Device);
        try
        {
            for (var k = 0; k < results.Count; k++)
            {
                using var scope = torch.NewDisposeScope();
                using var model = context.Factory.Create(results[k].Preferred);
                var run = context.Ui.Train($"fine-tune transferred member {k + 1}", model, problem.Data.Train, context.FineTuning(300 + k));
                seconds += run.Seconds;
                AddMember(model, test, sum, accuracies);
            }
        }
        finally
        {
            foreach (var result in results)
            {
                result.Dispose();
            }
        }

        return new EnsembleSideReport(Evaluator.Accuracy(sum, test), seconds, accuracies, context.Settings.FineTuneEpochs);
    }

    private EnsembleSideReport Independent(IReadOnlyList<ParameterSet> inits, Data.MnistSplit test)
    {
        var seconds = 0.0;
        var accuracies = new List<double>();
        using var sum = torch.zeros(test.Count, 10, device: context.Device);
        for (var k = 0; k < inits.Count; k++)
        {
            using var scope = torch.NewDisposeScope();
            using var model = context.Factory.Create(inits[k]);
            var run = context.Ui.Train($"train independent member {k + 1}", model, problem.Data.Train, context.FullTraining(200 + k));
            seconds += run.Seconds;
            AddMember(model, test, sum, accuracies);
        }

        return new EnsembleSideReport(Evaluator.Accuracy(sum, test), seconds, accuracies, context.Settings.Epochs);
    }

    private static void AddMember(nn.Module<Tensor, Tensor> model, Data.MnistSplit test, Tensor sum, List<double> accuracies)
    {
        using var probabilities = Evaluator.Probabilities(model, test);
        sum.add_(probabilities);
        accuracies.Add(Evaluator.Accuracy(probabilities, test));
    }
}
