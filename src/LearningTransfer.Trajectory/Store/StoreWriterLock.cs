using System.Globalization;

namespace TrajectoryTransfer.Trajectories;

/// <summary>
/// The exclusive writer lock of a trajectory store: the lock file <c>writer.lock</c> in its folder, held open with
/// <see cref="FileShare.None"/> (an advisory <c>flock</c> on Unix, a sharing lock on Windows), so the operating system
/// releases it when the process ends, however it ends; a crashed writer never leaves a stale lock. Within one process
/// a registry keyed by the folder's resolved path refuses a second writer before the file is touched. The lock file
/// itself is never deleted (deleting a lock file races with a writer that has just opened it).
/// </summary>
internal sealed class StoreWriterLock : IDisposable
{
    /// <summary>The lock file's name.</summary>
    public const string FileName = "writer.lock";

    // EWOULDBLOCK on Linux, and on macOS/BSD; ERROR_SHARING_VIOLATION and ERROR_LOCK_VIOLATION on Windows.
    private static readonly HashSet<int> LockedResults = [11, 35, unchecked((int)0x80070020), unchecked((int)0x80070021)];
    private static readonly Lock RegistryGate = new();
    private static readonly Dictionary<string, WeakReference<StoreWriterLock>> Registry =
        new(SafeFiles.PathComparison == StringComparison.Ordinal ? StringComparer.Ordinal : StringComparer.OrdinalIgnoreCase);

    private readonly string _key;
    private FileStream? _file;

    private StoreWriterLock(string key, FileStream file)
    {
        _key = key;
        _file = file;
    }

    /// <summary>
    /// Takes the lock of the store in <paramref name="directory"/> (whose resolved path is <paramref name="realDirectory"/>).
    /// </summary>
    /// <param name="directory">The store's folder, as the caller named it.</param>
    /// <param name="realDirectory">The folder with every link resolved (two paths to one folder share one lock).</param>
    /// <param name="describeOwner">Describes the current owner for the message, from what the store's manifest records.</param>
    /// <exception cref="TrajectoryStoreLockedException">Another writer, in this process or another, holds the lock.</exception>
    public static StoreWriterLock Acquire(string directory, string realDirectory, Func<string?> describeOwner)
    {
        var path = Path.Combine(directory, FileName);
        lock (RegistryGate)
        {
            if (Registry.TryGetValue(realDirectory, out var existing) && existing.TryGetTarget(out var holder) && holder._file is not null)
            {
                throw new TrajectoryStoreLockedException(directory, path, $"another writer in this process, ID {Environment.ProcessId}");
            }

            FileStream file;
            try
            {
                file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, bufferSize: 0);
            }
            catch (IOException e) when (LockedResults.Contains(e.HResult))
            {
                throw new TrajectoryStoreLockedException(directory, path, describeOwner(), e);
            }

            var taken = new StoreWriterLock(realDirectory, file);
            Registry[realDirectory] = new WeakReference<StoreWriterLock>(taken);
            return taken;
        }
    }

    /// <summary>Describes this process as a writer, for the manifest.</summary>
    public static StoreWriter CurrentWriter() => new()
    {
        ProcessId = Environment.ProcessId,
        Host = Environment.MachineName,
        Since = DateTimeOffset.UtcNow.ToString("o", CultureInfo.InvariantCulture),
    };

    /// <summary>Releases the lock (idempotent).</summary>
    public void Dispose()
    {
        lock (RegistryGate)
        {
            if (_file is null)
            {
                return;
            }

            _file.Dispose();
            _file = null;
            if (Registry.TryGetValue(_key, out var existing) && existing.TryGetTarget(out var holder) && ReferenceEquals(holder, this))
            {
                Registry.Remove(_key);
            }
        }
    }
}
