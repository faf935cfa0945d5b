using TrajectoryTransfer.Permutations;

namespace TrajectoryTransfer;

/// <summary>What the engine keeps for one new initialization during a run: its permutation, its kept matching problem, its best step, its clocks.</summary>
internal sealed class TargetState(int index, ParameterSet initialization, Permutation permutation) : IDisposable
{
    private readonly List<TransferStep> _history = [];
    private int _solvesBefore;
    private int _evaluationsBefore;
    private TimeSpan _gradientBefore;
    private TimeSpan _similarityBefore;
    private TimeSpan _assignmentBefore;
    private TimeSpan _evaluationBefore;

    public int Index { get; } = index;

    /// <summary>θ₂⁰ on the transfer's device.</summary>
    public ParameterSet Initialization { get; } = initialization;

    /// <summary>The current permutation πₛ.</summary>
    public Permutation Permutation { get; set; } = permutation;

    /// <summary>The assignment solver's prices and assignments per group from the last solve, to start the next step's solves from.</summary>
    public AssignmentWarmStartSet WarmStarts { get; } = new();

    /// <summary>The matching problem a method keeps across steps (FGMT's pairs), if any.</summary>
    public WeightMatchingProblem? Problem { get; set; }

    public double Objective { get; set; }

    public double PermutationChange { get; set; }

    public int Solves { get; set; }

    public int StepSolves => Solves - _solvesBefore;

    public int GradientEvaluations { get; set; }

    public TimeSpan GradientTime { get; set; }

    public TimeSpan SimilarityTime { get; set; }

    public TimeSpan AssignmentTime { get; set; }

    public TimeSpan EvaluationTime { get; set; }

    public long CacheBytes { get; set; }

    public ParameterSet? Final { get; set; }

    public ParameterSet? BestParameters { get; set; }

    public Permutation? BestPermutation { get; set; }

    public int? BestStep { get; set; }

    public double? BestScore { get; set; }

    /// <summary>Adopts a matching result as πₛ and counts its work.</summary>
    public void Adopt(WeightMatchingResult result)
    {
        SimilarityTime += result.SimilarityTime;
        AssignmentTime += result.AssignmentTime;
        Solves += result.Solves;
        Objective = result.Objective;
        PermutationChange = 1 - result.Permutation.AgreementWith(Permutation);
        Permutation = result.Permutation;
    }

    /// <summary>Starts a step; work done before step 1 (Oracle's matching) is counted in step 1.</summary>
    public void BeginStep() => PermutationChange = 0;

    public void EndStep(int step, double lambda, double? score)
    {
        _history.Add(new TransferStep(
            step,
            lambda,
            Objective,
            score,
            GradientEvaluations - _evaluationsBefore,
            Solves - _solvesBefore,
            PermutationChange,
            GradientTime - _gradientBefore,
            SimilarityTime - _similarityBefore,
            AssignmentTime - _assignmentBefore,
            EvaluationTime - _evaluationBefore));
        _solvesBefore = Solves;
        _evaluationsBefore = GradientEvaluations;
        _gradientBefore = GradientTime;
        _similarityBefore = SimilarityTime;
        _assignmentBefore = AssignmentTime;
        _evaluationBefore = EvaluationTime;
    }

    /// <summary>Hands the final and best parameters over to a result (this state no longer owns them).</summary>
    public TransferResult ToResult(TransferMethod method, TimeSpan total)
    {
        var result = new TransferResult(
            method,
            Final!,
            Permutation,
            BestStep,
            BestParameters,
            BestPermutation,
            BestScore,
            _history.ToArray(),
            new TransferTimings(total, GradientTime, SimilarityTime, AssignmentTime, EvaluationTime),
            GradientEvaluations,
            Math.Max(CacheBytes, Problem?.CachedBytes ?? 0));
        Final = null;
        BestParameters = null;
        return result;
    }

    /// <summary>Releases what was not handed over: the kept problem, and the parameters of a run that failed.</summary>
    public void Dispose()
    {
        Problem?.Dispose();
        Problem = null;
        Final?.Dispose();
        BestParameters?.Dispose();
        Final = null;
        BestParameters = null;
    }
}
