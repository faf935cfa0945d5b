using System.Runtime.InteropServices;
using System.Text;

namespace TrajectoryTransfer.Trajectories;

/// <summary>
/// Path and file-type checks for reading files that someone else may have prepared: symbolic links resolved component by
/// component (like <c>realpath</c>), containment in a folder, and the type of a file before it is opened, so that a FIFO
/// or a device is refused instead of blocking the reader forever.
/// </summary>
internal static class SafeFiles
{
    /// <summary>The kind of a file system entry, links followed.</summary>
    public enum Kind
    {
        /// <summary>Nothing at that path.</summary>
        Missing,

        /// <summary>A regular file.</summary>
        Regular,

        /// <summary>A directory.</summary>
        Directory,

        /// <summary>A FIFO, character or block device, or socket.</summary>
        Special,
    }

    // Linux's ELOOP limit.
    private const int MaxLinks = 40;

    /// <summary>How paths compare on this OS (case-insensitive where the usual file systems are).</summary>
    public static StringComparison PathComparison { get; } =
        OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;

    /// <summary>
    /// The absolute path with every symbolic link in every component resolved (a missing component ends the resolution;
    /// the rest is appended as written). ".." is applied after the links before it are resolved, as the OS does.
    /// </summary>
    /// <exception cref="IOException">More than 40 links had to be followed (a loop).</exception>
    public static string RealPath(string path)
    {
        var full = Path.GetFullPath(path);
        var root = Path.GetPathRoot(full) ?? string.Empty;
        var pending = new Stack<string>();
        Push(pending, full[root.Length..]);
        var resolved = root;
        var links = 0;
        var missing = false;
        while (pending.Count > 0)
        {
            var part = pending.Pop();
            if (part.Length == 0 || part == ".")
            {
                continue;
            }

            if (part == "..")
            {
                resolved = Path.GetDirectoryName(resolved) ?? resolved;
                continue;
            }

            var candidate = Path.Combine(resolved, part);
            var target = missing ? null : LinkTarget(candidate, out missing);
            if (target is null)
            {
                resolved = candidate;
                continue;
            }

            if (++links > MaxLinks)
            {
                throw new IOException($"Resolving '{path}' followed more than {MaxLinks} symbolic links (a loop?).");
            }

            if (Path.IsPathRooted(target))
            {
                var targetRoot = Path.GetPathRoot(target) ?? string.Empty;
                resolved = targetRoot;
                Push(pending, target[targetRoot.Length..]);
            }
            else
            {
                Push(pending, target);
            }
        }

        return resolved;
    }

    /// <summary>Whether <paramref name="realPath"/> lies strictly inside <paramref name="realDirectory"/> (both resolved).</summary>
    public static bool IsInside(string realPath, string realDirectory)
    {
        var directory = Path.TrimEndingDirectorySeparator(realDirectory);
        if (directory.EndsWith(Path.DirectorySeparatorChar) || directory.EndsWith(Path.AltDirectorySeparatorChar))
        {
            // A root ("/", "C:\") keeps its separator.
            return realPath.Length > directory.Length && realPath.StartsWith(directory, PathComparison);
        }

        return realPath.Length > directory.Length + 1
            && realPath.StartsWith(directory, PathComparison)
            && (realPath[directory.Length] == Path.DirectorySeparatorChar || realPath[directory.Length] == Path.AltDirectorySeparatorChar);
    }

    /// <summary>
    /// The kind of the entry at <paramref name="path"/>, links followed, and its length (0 unless regular). On Linux the type
    /// comes from <c>statx</c>; elsewhere a special file is seen as regular, and callers' size checks (a FIFO or device
    /// reports 0 bytes) must refuse it.
    /// </summary>
    public static Kind GetKind(string path, out long length)
    {
        length = 0;
        if (OperatingSystem.IsLinux() && TryStatx(path, out var mode, out var size, out var exists))
        {
            if (!exists)
            {
                return Kind.Missing;
            }

            length = size;
            return (mode & 0xF000) switch
            {
                0x8000 => Kind.Regular,
                0x4000 => Kind.Directory,
                _ => Kind.Special,
            };
        }

        FileSystemInfo info = new FileInfo(path);
        if (info.LinkTarget is not null)
        {
            info = info.ResolveLinkTarget(returnFinalTarget: true) ?? info;
        }

        if (info is DirectoryInfo || (info.Exists && info.Attributes.HasFlag(FileAttributes.Directory)) || System.IO.Directory.Exists(info.FullName))
        {
            return Kind.Directory;
        }

        if (!info.Exists)
        {
            return Kind.Missing;
        }

        if (info.Attributes.HasFlag(FileAttributes.Device))
        {
            return Kind.Special;
        }

        length = ((FileInfo)info).Length;
        return Kind.Regular;
    }

    private static string? LinkTarget(string path, out bool missing)
    {
        missing = false;
        FileAttributes attributes;
        try
        {
            attributes = File.GetAttributes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            missing = true;
            return null;
        }

        if (!attributes.HasFlag(FileAttributes.ReparsePoint))
        {
            return null;
        }

        FileSystemInfo info = attributes.HasFlag(FileAttributes.Directory) ? new DirectoryInfo(path) : new FileInfo(path);
        return info.LinkTarget;
    }

    private static void Push(Stack<string> pending, string relative)
    {
        var parts = relative.Split([Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar]);
        for (var i = parts.Length - 1; i >= 0; i--)
        {
            pending.Push(parts[i]);
        }
    }

    /// <summary>statx(2) (glibc 2.28+): its struct has the same layout on every Linux architecture, unlike struct stat.</summary>
    private static bool TryStatx(string path, out int mode, out long size, out bool exists)
    {
        const int atFdCwd = -100;
        const uint statxType = 0x1;
        const uint statxSize = 0x200;
        const int enoent = 2;
        const int enotdir = 20;
        mode = 0;
        size = 0;
        exists = false;
        var buffer = new byte[256];
        var bytes = Encoding.UTF8.GetBytes(path + "\0");
        int result;
        try
        {
            result = Statx(atFdCwd, bytes, 0, statxType | statxSize, buffer);
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return false;
        }

        if (result != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno is enoent or enotdir)
            {
                return true;
            }

            return false;
        }

        exists = true;
        mode = BitConverter.ToUInt16(buffer, 28);
        size = (long)BitConverter.ToUInt64(buffer, 40);
        return true;
    }

    [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Statx(int dirfd, byte[] path, int flags, uint mask, byte[] buffer);
}
