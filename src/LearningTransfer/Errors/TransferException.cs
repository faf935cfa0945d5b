namespace TrajectoryTransfer;

/// <summary>Thrown when a transfer cannot go on: for example a gradient became NaN or infinite.</summary>
public class TransferException : Exception
{
    /// <summary>Creates the exception.</summary>
    public TransferException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What went wrong.</param>
    public TransferException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the cause.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public TransferException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>Thrown when a gradient holds NaN or infinite values; says at which step, trajectory point, side and parameter.</summary>
public sealed class NonFiniteGradientException : TransferException
{
    /// <summary>Creates the exception.</summary>
    public NonFiniteGradientException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What went wrong.</param>
    public NonFiniteGradientException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the cause.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public NonFiniteGradientException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception for a location.</summary>
    /// <param name="step">The transfer step s (1-based).</param>
    /// <param name="point">The trajectory point t whose gradient was taken.</param>
    /// <param name="side">"source" or "target".</param>
    /// <param name="parameter">The parameter whose gradient is not finite.</param>
    public NonFiniteGradientException(int step, int point, string side, string parameter)
        : base($"The {side} gradient of '{parameter}' at trajectory point {point} (transfer step {step}) holds NaN or infinite values. Check the loss, the learning rate of the source run, and the input data.")
    {
        Step = step;
        Point = point;
        Side = side;
        Parameter = parameter;
    }

    /// <summary>The transfer step s (1-based).</summary>
    public int Step { get; }

    /// <summary>The trajectory point t.</summary>
    public int Point { get; }

    /// <summary>"source" or "target".</summary>
    public string Side { get; } = string.Empty;

    /// <summary>The parameter name.</summary>
    public string Parameter { get; } = string.Empty;
}
