namespace TrajectoryTransfer;

/// <summary>What happened at one transfer step s (one row of the history).</summary>
/// <param name="Step">s, from 1 to T.</param>
/// <param name="Lambda">λₛ for a linear trajectory; otherwise the point's position s/T.</param>
/// <param name="Objective">The weight matching objective Σ ⟨g₂, π(g₁)⟩ at the chosen π (0 for Naive).</param>
/// <param name="ValidationScore">The validation callback's score of θ₂,πₛˢ, when validation was configured.</param>
/// <param name="GradientEvaluations">Gradient evaluations (forward+backward over one minibatch) at this step, for this target (source gradients shared between targets are counted for each).</param>
/// <param name="Solves">Assignment problems solved at this step.</param>
/// <param name="PermutationChange">The fraction of hidden units whose index changed from πₛ₋₁ to πₛ.</param>
/// <param name="GradientTime">Time spent on gradients at this step.</param>
/// <param name="SimilarityTime">Time spent building similarity matrices at this step.</param>
/// <param name="AssignmentTime">Time spent in the assignment solver at this step.</param>
/// <param name="EvaluationTime">Time spent on BatchNorm refresh and validation at this step.</param>
public sealed record TransferStep(
    int Step,
    double Lambda,
    double Objective,
    double? ValidationScore,
    int GradientEvaluations,
    int Solves,
    double PermutationChange,
    TimeSpan GradientTime,
    TimeSpan SimilarityTime,
    TimeSpan AssignmentTime,
    TimeSpan EvaluationTime);

/// <summary>Where the time of a transfer went.</summary>
/// <param name="Total">Wall time of the whole run.</param>
/// <param name="Gradients">Forward and backward passes for gradients (and the BatchNorm refreshes before them).</param>
/// <param name="Similarity">Building similarity matrices from gradient pairs.</param>
/// <param name="Assignment">Assignment solves.</param>
/// <param name="Evaluation">BatchNorm refresh and the validation callback for scored steps.</param>
public sealed record TransferTimings(TimeSpan Total, TimeSpan Gradients, TimeSpan Similarity, TimeSpan Assignment, TimeSpan Evaluation);

/// <summary>The phase a <see cref="TransferProgress"/> event reports.</summary>
public enum TransferPhase
{
    /// <summary>Gradients at trajectory points are being computed.</summary>
    Gradients,

    /// <summary>Weight matching is solving assignment problems (reported per solver sweep).</summary>
    Matching,

    /// <summary>The step's transferred parameters are being evaluated.</summary>
    Evaluation,

    /// <summary>A step is complete.</summary>
    StepCompleted,
}

/// <summary>A progress event of a transfer.</summary>
/// <param name="Step">The step s (1-based) the event belongs to.</param>
/// <param name="TotalSteps">T.</param>
/// <param name="Phase">What is happening.</param>
/// <param name="Target">The index of the target (0 for a single target).</param>
/// <param name="Targets">How many targets are transferred together.</param>
/// <param name="Objective">The matching objective, after a solver sweep or a step.</param>
/// <param name="ValidationScore">The step's validation score, once evaluated.</param>
/// <param name="Elapsed">Time since the run started.</param>
public readonly record struct TransferProgress(
    int Step,
    int TotalSteps,
    TransferPhase Phase,
    int Target,
    int Targets,
    double? Objective,
    double? ValidationScore,
    TimeSpan Elapsed);
