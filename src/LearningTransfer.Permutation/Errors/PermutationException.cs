namespace TrajectoryTransfer.Permutations;

/// <summary>
/// The root of the exceptions the Permutation package throws for its own failures (a spec that does not fit, an assignment
/// solver that cannot finish). Bad arguments are reported with the standard .NET argument exceptions.
/// </summary>
public class PermutationException : Exception
{
    /// <summary>Creates the exception.</summary>
    public PermutationException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What went wrong.</param>
    public PermutationException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the cause.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public PermutationException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
