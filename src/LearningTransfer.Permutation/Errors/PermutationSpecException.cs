namespace TrajectoryTransfer.Permutations;

/// <summary>
/// Thrown when a permutation spec does not fit a model or a parameter set: a parameter it names is missing, a tensor it
/// does not cover is present, an axis size disagrees with its group, or the spec itself is inconsistent; also when a spec
/// cannot be inferred. The message names the parameter, the axis, the size seen and the size expected.
/// </summary>
public sealed class PermutationSpecException : PermutationException
{
    /// <summary>Creates the exception.</summary>
    public PermutationSpecException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What does not fit.</param>
    public PermutationSpecException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the offending argument's name.</summary>
    /// <param name="message">What does not fit.</param>
    /// <param name="paramName">The argument that did not fit.</param>
    public PermutationSpecException(string message, string? paramName)
        : base(paramName is null ? message : $"{message} (Parameter '{paramName}')")
    {
        ParamName = paramName;
    }

    /// <summary>Creates the exception with a message and the cause.</summary>
    /// <param name="message">What does not fit.</param>
    /// <param name="innerException">The cause.</param>
    public PermutationSpecException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The argument that did not fit (the model, the spec, a parameter set), when known.</summary>
    public string? ParamName { get; }
}
