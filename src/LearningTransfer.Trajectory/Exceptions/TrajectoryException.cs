namespace TrajectoryTransfer.Trajectories;

/// <summary>The base of the exceptions a trajectory throws when it cannot be read, written or combined.</summary>
public class TrajectoryException : Exception
{
    /// <summary>Creates the exception.</summary>
    public TrajectoryException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What went wrong.</param>
    public TrajectoryException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public TrajectoryException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// A trajectory store or checkpoint file is damaged: a point file is missing or truncated, its SHA-256 differs from the
/// manifest's, or the manifest cannot be read. <see cref="FilePath"/> names the file.
/// </summary>
public sealed class TrajectoryStoreCorruptedException : TrajectoryException
{
    /// <summary>Creates the exception.</summary>
    public TrajectoryStoreCorruptedException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What went wrong.</param>
    public TrajectoryStoreCorruptedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public TrajectoryStoreCorruptedException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception for a damaged file.</summary>
    /// <param name="filePath">The damaged file.</param>
    /// <param name="message">What is wrong with it.</param>
    /// <param name="innerException">The cause, if any.</param>
    public TrajectoryStoreCorruptedException(string filePath, string message, Exception? innerException = null)
        : base($"{message} (file: {filePath})", innerException)
    {
        FilePath = filePath;
    }

    /// <summary>The damaged or missing file.</summary>
    public string? FilePath { get; }
}

/// <summary>
/// Parameters do not fit the architecture a trajectory was made for: a name is missing or extra, or a shape or element
/// type differs. <see cref="Difference"/> says which, and <see cref="FilePath"/> names the file when one is involved.
/// </summary>
public sealed class TrajectoryArchitectureMismatchException : TrajectoryException
{
    /// <summary>Creates the exception.</summary>
    public TrajectoryArchitectureMismatchException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What went wrong.</param>
    public TrajectoryArchitectureMismatchException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public TrajectoryArchitectureMismatchException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception for a difference found while reading or writing <paramref name="filePath"/>.</summary>
    /// <param name="difference">The first difference, as <see cref="TrajectoryTransfer.Permutations.ParameterLayout.FirstDifference(TrajectoryTransfer.Permutations.ParameterLayout, bool)"/> words it.</param>
    /// <param name="filePath">The file involved, or <see langword="null"/>.</param>
    /// <param name="context">What was being done, such as "Appending to the store".</param>
    public TrajectoryArchitectureMismatchException(string difference, string? filePath, string context)
        : base(filePath is null
            ? $"{context}: the architecture differs from the trajectory's: {difference}."
            : $"{context}: the architecture differs from the trajectory's: {difference} (file: {filePath}).")
    {
        Difference = difference;
        FilePath = filePath;
    }

    /// <summary>The first difference found.</summary>
    public string? Difference { get; }

    /// <summary>The file involved, if any.</summary>
    public string? FilePath { get; }
}

/// <summary>
/// A trajectory store was not completed: its writer was interrupted (crash, cancellation, or no call to
/// <see cref="TrajectoryStore.Complete"/>), so it may hold fewer points than intended.
/// Open it with <c>allowIncomplete: true</c> to read the points it does hold.
/// </summary>
public sealed class TrajectoryStoreIncompleteException : TrajectoryException
{
    /// <summary>Creates the exception.</summary>
    public TrajectoryStoreIncompleteException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What went wrong.</param>
    public TrajectoryStoreIncompleteException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public TrajectoryStoreIncompleteException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception for the store in <paramref name="directory"/>.</summary>
    /// <param name="directory">The store's folder.</param>
    /// <param name="pointCount">The number of complete points the store holds.</param>
    public TrajectoryStoreIncompleteException(string directory, int pointCount)
        : base($"The trajectory store '{directory}' is incomplete: its writer did not complete it, so it may be short. "
            + $"It holds {pointCount} complete point(s); open it with allowIncomplete: true to read them.")
    {
        Directory = directory;
        PointCount = pointCount;
    }

    /// <summary>The store's folder.</summary>
    public string? Directory { get; }

    /// <summary>The number of complete points the store holds.</summary>
    public int PointCount { get; }
}

/// <summary>
/// Another writer holds a trajectory store: a second <see cref="TrajectoryStore.Create"/> or
/// <see cref="TrajectoryStore.OpenForAppend"/> on the same folder, from this process or another, while the first has not
/// completed or been disposed. The lock dies with its process, so a crashed writer never leaves a store locked. Readers
/// (<see cref="TrajectoryStore.Open"/>) are not affected.
/// </summary>
public sealed class TrajectoryStoreLockedException : TrajectoryException
{
    /// <summary>Creates the exception.</summary>
    public TrajectoryStoreLockedException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What went wrong.</param>
    public TrajectoryStoreLockedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public TrajectoryStoreLockedException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception for the store in <paramref name="directory"/>.</summary>
    /// <param name="directory">The store's folder.</param>
    /// <param name="lockFilePath">The lock file another writer holds.</param>
    /// <param name="owner">Who holds it, as far as is known (such as "process 1234 on host build-7 since …"), or <see langword="null"/>.</param>
    /// <param name="innerException">The operating system's refusal, if any.</param>
    public TrajectoryStoreLockedException(string directory, string lockFilePath, string? owner, Exception? innerException = null)
        : base($"The trajectory store '{directory}' is being written by another writer ({owner ?? "owner unknown"}); "
            + $"only one writer at a time may append. The lock ('{lockFilePath}') is released when that writer calls Complete() or "
            + "Dispose(), or when its process ends. Readers may open the store meanwhile.", innerException)
    {
        Directory = directory;
        LockFilePath = lockFilePath;
        Owner = owner;
    }

    /// <summary>The store's folder.</summary>
    public string? Directory { get; }

    /// <summary>The lock file.</summary>
    public string? LockFilePath { get; }

    /// <summary>Who holds the lock, as far as is known.</summary>
    public string? Owner { get; }
}
