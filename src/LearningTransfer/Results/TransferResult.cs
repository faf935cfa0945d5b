using TorchSharp;
using TrajectoryTransfer.Permutations;
using static TorchSharp.torch;

namespace TrajectoryTransfer;

/// <summary>
/// The outcome of a transfer: the transferred parameters θ₂,π_T^T and the final permutation, the best step's
/// parameters when validation was configured, and a per-step history. Owns its tensors: dispose it.
/// </summary>
public sealed class TransferResult : IDisposable
{
    internal TransferResult(
        TransferMethod method,
        ParameterSet parameters,
        Permutation permutation,
        int? bestStep,
        ParameterSet? bestParameters,
        Permutation? bestPermutation,
        double? bestScore,
        IReadOnlyList<TransferStep> history,
        TransferTimings timings,
        int gradientEvaluations,
        long cacheBytes)
    {
        Method = method;
        Parameters = parameters;
        Permutation = permutation;
        BestStep = bestStep;
        BestParameters = bestParameters;
        BestPermutation = bestPermutation;
        BestValidationScore = bestScore;
        History = history;
        Timings = timings;
        GradientEvaluations = gradientEvaluations;
        CacheBytes = cacheBytes;
    }

    /// <summary>The method that produced this result.</summary>
    public TransferMethod Method { get; }

    /// <summary>θ₂,π_T^T = θ₂⁰ + π_T(θ₁^T − θ₁⁰), with BatchNorm statistics recomputed where the model has BatchNorm.</summary>
    public ParameterSet Parameters { get; }

    /// <summary>The final permutation π_T.</summary>
    public Permutation Permutation { get; }

    /// <summary>The step with the best validation score (1..T), when validation was configured.</summary>
    public int? BestStep { get; }

    /// <summary>The parameters of the best step, when validation was configured (the paper fine-tunes from these).</summary>
    public ParameterSet? BestParameters { get; }

    /// <summary>The permutation of the best step, when validation was configured.</summary>
    public Permutation? BestPermutation { get; }

    /// <summary>The best step's validation score.</summary>
    public double? BestValidationScore { get; }

    /// <summary>The validation score of the final step, when validation was configured.</summary>
    public double? FinalValidationScore => History.Count > 0 ? History[^1].ValidationScore : null;

    /// <summary>One entry per step.</summary>
    public IReadOnlyList<TransferStep> History { get; }

    /// <summary>Where the time went.</summary>
    public TransferTimings Timings { get; }

    /// <summary>Gradient evaluations (forward+backward over one minibatch) spent for this target, source side included.</summary>
    public int GradientEvaluations { get; }

    /// <summary>Bytes held by the gradient-pair cache at the end (FGMT's O(T) state; per-step scratch for GMT).</summary>
    public long CacheBytes { get; }

    /// <summary>The parameters the paper continues from: the best step's when validation was configured, else the final ones.</summary>
    public ParameterSet Preferred => BestParameters ?? Parameters;

    /// <summary>Copies the final (or, with <paramref name="best"/>, the best step's) parameters into <paramref name="module"/>, in place.</summary>
    /// <param name="module">The module to overwrite; it must have the architecture of the transfer.</param>
    /// <param name="best">Load the best step's parameters (when validation was configured).</param>
    /// <exception cref="ArgumentNullException"><paramref name="module"/> is null.</exception>
    /// <exception cref="ArgumentException">The module's parameters do not match.</exception>
    public void LoadInto(nn.Module module, bool best = false)
    {
        ArgumentNullException.ThrowIfNull(module);
        (best ? Preferred : Parameters).LoadInto(module);
    }

    /// <summary>Creates a new module with <paramref name="factory"/> and loads the final (or best) parameters into it: a copy, the caller's modules untouched.</summary>
    /// <typeparam name="TModule">The module type.</typeparam>
    /// <param name="factory">Makes a module of the transfer's architecture (on any device; parameters are copied onto it).</param>
    /// <param name="best">Load the best step's parameters (when validation was configured).</param>
    /// <exception cref="ArgumentNullException"><paramref name="factory"/> is null.</exception>
    public TModule CreateModule<TModule>(Func<TModule> factory, bool best = false)
        where TModule : nn.Module
    {
        ArgumentNullException.ThrowIfNull(factory);
        var module = factory();
        LoadInto(module, best);
        return module;
    }

    /// <summary>Disposes the parameter sets.</summary>
    public void Dispose()
    {
        Parameters.Dispose();
        BestParameters?.Dispose();
    }
}
