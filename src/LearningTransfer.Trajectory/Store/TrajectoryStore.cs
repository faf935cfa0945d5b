using System.Globalization;
using System.Text.RegularExpressions;
using TorchSharp;
using TrajectoryTransfer.Permutations;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Trajectories;

/// <summary>
/// A trajectory kept on disk: a folder with a versioned JSON manifest (<c>manifest.json</c>: format version, architecture
/// with its fingerprint, storage precision, and per point its file, label, size and SHA-256) and one safetensors file per
/// point. Reading point t reads only its file.
/// </summary>
/// <remarks>
/// <para>
/// Every file is written to a temporary name and renamed into place, point file first and manifest last, so the manifest
/// only ever lists complete, checksummed points. A store opened for writing is marked incomplete in its manifest until
/// <see cref="Complete"/> runs; a writer that crashes or is canceled therefore leaves a store that
/// <see cref="Open"/> reports as incomplete (<see cref="TrajectoryStoreIncompleteException"/>), never one that reads as
/// complete but is short.
/// </para>
/// <para>
/// One writer at a time: <see cref="Create"/> and <see cref="OpenForAppend"/> take the store's writer lock (the file
/// <c>writer.lock</c>, locked through the operating system, so it dies with its process) and a second writer, in this
/// process or another, gets <see cref="TrajectoryStoreLockedException"/>; <see cref="Complete"/> or <see cref="Dispose"/>
/// release it. Readers never need the lock: reading is safe from any thread and while a writer appends.
/// Point files are valid safetensors files (Python's <c>safetensors.torch.load_file</c> reads them).
/// </para>
/// <para>
/// A store may come from someone else. Every field of the manifest is checked when it is opened, the manifest carries its
/// own checksum, and a point file is read only if it is a regular file inside the store's folder (a symbolic link is
/// followed only when its target lies inside the folder, and the size is checked on the target). On Linux a FIFO or device
/// is recognised before it is opened; elsewhere it is refused by the size check (it reports 0 bytes).
/// </para>
/// </remarks>
public sealed partial class TrajectoryStore : ITrajectory, IDisposable
{
    /// <summary>The manifest's file name.</summary>
    public const string ManifestFileName = "manifest.json";

    private const string TempSuffix = ".tmp";
    private readonly Lock _gate = new();
    private readonly StoreManifest _manifest;
    private readonly TrajectoryStoreOptions _options;
    private readonly string _realDirectory;
    private TrajectoryPointLabel[] _labels;
    private StoreWriterLock? _writerLock;

    private TrajectoryStore(string directory, string realDirectory, StoreManifest manifest, ParameterLayout layout, TrajectoryStorePrecision precision, TrajectoryStoreOptions options)
    {
        Directory = directory;
        _realDirectory = realDirectory;
        _manifest = manifest;
        Layout = layout;
        Precision = precision;
        _options = options;
        _labels = [.. manifest.Points.Select(ToLabel)];
    }

    /// <summary>The store's folder.</summary>
    public string Directory { get; }

    /// <inheritdoc />
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _manifest.Points.Count;
            }
        }
    }

    /// <inheritdoc />
    public ParameterLayout Layout { get; }

    /// <inheritdoc />
    public IReadOnlyList<TrajectoryPointLabel> Labels
    {
        get
        {
            lock (_gate)
            {
                return _labels;
            }
        }
    }

    /// <summary>How floating-point tensors are stored.</summary>
    public TrajectoryStorePrecision Precision { get; }

    /// <summary>Whether the writer completed the store (see <see cref="Complete"/>).</summary>
    public bool IsComplete
    {
        get
        {
            lock (_gate)
            {
                return _manifest.Complete;
            }
        }
    }

    /// <summary>Whether this instance may append (it was created or opened for appending, and neither completed nor disposed).</summary>
    public bool IsWritable => _writerLock is not null;

    /// <summary>Test hook: called at each stage of a write ("point-temp-written", "point-renamed", "manifest-temp-written").</summary>
    internal Action<string>? FaultInjection { get; set; }

    /// <summary>
    /// Creates a new, empty store in <paramref name="directory"/> (created if needed; it must not hold a store already)
    /// and returns it open for appending, holding the store's writer lock until <see cref="Complete"/> or <see cref="Dispose"/>.
    /// </summary>
    /// <param name="directory">The folder.</param>
    /// <param name="layout">The architecture every point will have.</param>
    /// <param name="options">Precision and durability; <see langword="null"/> uses <see cref="TrajectoryStoreOptions.Default"/>.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="IOException">The folder already holds a store (open it with <see cref="OpenForAppend"/>), or it cannot be written.</exception>
    /// <exception cref="TrajectoryStoreLockedException">Another writer is creating or appending to a store in this folder.</exception>
    /// <exception cref="NotSupportedException">The layout has an element type a store cannot hold.</exception>
    public static TrajectoryStore Create(string directory, ParameterLayout layout, TrajectoryStoreOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        ArgumentNullException.ThrowIfNull(layout);
        options ??= TrajectoryStoreOptions.Default;
        var full = Path.GetFullPath(directory);
        var manifestPath = Path.Combine(full, ManifestFileName);
        if (File.Exists(manifestPath))
        {
            throw new IOException($"'{full}' already holds a trajectory store; open it with {nameof(OpenForAppend)} to add points.");
        }

        if (layout.Entries.FirstOrDefault(e => !SafetensorsFormat.IsSupported(e.DType)) is { } unsupported)
        {
            throw new NotSupportedException($"'{unsupported.Name}' has element type {unsupported.DType}, which a trajectory store cannot hold.");
        }

        System.IO.Directory.CreateDirectory(full);
        var real = SafeFiles.RealPath(full);
        var writerLock = StoreWriterLock.Acquire(full, real, () => DescribeWriter(manifestPath));
        try
        {
            if (File.Exists(manifestPath))
            {
                throw new IOException($"'{full}' already holds a trajectory store; open it with {nameof(OpenForAppend)} to add points.");
            }

            var manifest = new StoreManifest
            {
                Complete = false,
                Precision = PrecisionName(options.Precision),
                Architecture = new StoreArchitecture
                {
                    Fingerprint = layout.Fingerprint(),
                    Parameters = [.. layout.Entries.Select(e => new StoreParameter { Name = e.Name, Shape = [.. e.Shape], DType = e.DType.ToString() })],
                },
            };
            var store = new TrajectoryStore(full, real, manifest, layout, options.Precision, options);
            store.WriteManifest(Copy(manifest, complete: false, StoreWriterLock.CurrentWriter()));
            store._writerLock = writerLock;
            return store;
        }
        catch
        {
            writerLock.Dispose();
            throw;
        }
    }

    /// <summary>Opens an existing store for reading (no lock is needed; a writer may be appending meanwhile).</summary>
    /// <param name="directory">The store's folder.</param>
    /// <param name="allowIncomplete">Whether a store whose writer did not complete it may be read (its complete points); the default is <see langword="false"/>.</param>
    /// <param name="expectedLayout">When given, the store's architecture must equal it.</param>
    /// <exception cref="ArgumentException"><paramref name="directory"/> is null or empty.</exception>
    /// <exception cref="TrajectoryStoreIncompleteException">The store was not completed and <paramref name="allowIncomplete"/> is <see langword="false"/>.</exception>
    /// <exception cref="TrajectoryStoreCorruptedException">
    /// The manifest is missing, unreadable, fails its checksum or has a field out of range (the message names the field), or
    /// a point file is missing, has the wrong size, is not a regular file, or is a link that leaves the store's folder.
    /// </exception>
    /// <exception cref="TrajectoryArchitectureMismatchException">The store's architecture differs from <paramref name="expectedLayout"/>.</exception>
    /// <exception cref="TrajectoryException">The store was written in a newer format version.</exception>
    public static TrajectoryStore Open(string directory, bool allowIncomplete = false, ParameterLayout? expectedLayout = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        var store = Load(Path.GetFullPath(directory), expectedLayout, TrajectoryStoreOptions.Default);
        if (!store.IsComplete && !allowIncomplete)
        {
            throw new TrajectoryStoreIncompleteException(store.Directory, store.Count);
        }

        return store;
    }

    /// <summary>
    /// Opens an existing store (complete or not) to append points, taking its writer lock until <see cref="Complete"/> or
    /// <see cref="Dispose"/>. The store is marked incomplete until <see cref="Complete"/> runs; the temporary files an
    /// interrupted writer of this store left (<c>point-*.safetensors.tmp</c>, <c>manifest.json.tmp</c>) are removed, and no
    /// other file.
    /// </summary>
    /// <param name="directory">The store's folder.</param>
    /// <param name="expectedLayout">When given, the store's architecture must equal it.</param>
    /// <param name="flushToDisk">Whether files are flushed to the disk before being renamed; the default is <see langword="true"/>.</param>
    /// <exception cref="ArgumentException"><paramref name="directory"/> is null or empty.</exception>
    /// <exception cref="TrajectoryStoreLockedException">Another writer, in this process or another, has the store open.</exception>
    /// <exception cref="TrajectoryStoreCorruptedException">The manifest or a point file is damaged (see <see cref="Open"/>).</exception>
    /// <exception cref="TrajectoryArchitectureMismatchException">The store's architecture differs from <paramref name="expectedLayout"/>.</exception>
    /// <exception cref="TrajectoryException">The store was written in a newer format version.</exception>
    public static TrajectoryStore OpenForAppend(string directory, ParameterLayout? expectedLayout = null, bool flushToDisk = true)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        var full = Path.GetFullPath(directory);
        var manifestPath = Path.Combine(full, ManifestFileName);
        if (!File.Exists(manifestPath))
        {
            // No store here: say so as Open does, without leaving a lock file in a folder that holds none.
            _ = Load(full, expectedLayout, TrajectoryStoreOptions.Default);
        }

        var writerLock = StoreWriterLock.Acquire(full, SafeFiles.RealPath(full), () => DescribeWriter(manifestPath));
        try
        {
            var store = Load(full, expectedLayout, new TrajectoryStoreOptions { FlushToDisk = flushToDisk });
            foreach (var temp in System.IO.Directory.EnumerateFiles(full, "*" + TempSuffix))
            {
                if (IsOwnTemporary(Path.GetFileName(temp)))
                {
                    File.Delete(temp);
                }
            }

            store.WriteManifest(Copy(store._manifest, complete: false, StoreWriterLock.CurrentWriter()));
            store._writerLock = writerLock;
            return store;
        }
        catch
        {
            writerLock.Dispose();
            throw;
        }
    }

    /// <summary>Writes every point of <paramref name="source"/> to a new store in <paramref name="directory"/> and completes it.</summary>
    /// <param name="source">The trajectory to store.</param>
    /// <param name="directory">The folder (see <see cref="Create"/>).</param>
    /// <param name="options">Precision and durability.</param>
    /// <param name="progress">Receives the number of points written after each point.</param>
    /// <param name="cancellationToken">Stops between points; the store is then left incomplete.</param>
    /// <exception cref="ArgumentNullException"><paramref name="source"/> is null.</exception>
    /// <exception cref="IOException">The folder already holds a store or cannot be written.</exception>
    /// <exception cref="TrajectoryStoreLockedException">Another writer is creating or appending to a store in this folder.</exception>
    /// <exception cref="OperationCanceledException">The operation was canceled; the store is left incomplete and its lock released.</exception>
    public static TrajectoryStore CreateFrom(ITrajectory source, string directory, TrajectoryStoreOptions? options = null, IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        var store = Create(directory, source.Layout, options);
        try
        {
            for (var i = 0; i < source.Count; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var scope = torch.NewDisposeScope();
                using var point = source.GetPoint(i);
                store.Append(point, source.Labels[i]);
                progress?.Report(i + 1);
            }

            store.Complete();
            return store;
        }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    /// <summary>Appends a point (copied to a new file; the caller keeps the set).</summary>
    /// <param name="point">The parameters; names, shapes and element types must equal <see cref="Layout"/>. Any device.</param>
    /// <param name="label">The point's label (its index is replaced by the point's position); <see langword="null"/> gives a bare label.</param>
    /// <exception cref="ArgumentNullException"><paramref name="point"/> is null.</exception>
    /// <exception cref="InvalidOperationException">The store is not open for appending.</exception>
    /// <exception cref="TrajectoryArchitectureMismatchException">The point's layout differs from the store's.</exception>
    /// <exception cref="ArgumentException">Half precision was chosen and a value does not fit float16.</exception>
    public void Append(ParameterSet point, TrajectoryPointLabel? label = null)
    {
        using var prepared = PrepareAppend(point);
        var (file, temp) = NextFileNames();
        string sha;
        // Unbuffered: the tensors are written straight from their native memory in large spans.
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0))
        {
            sha = PointFileCodec.Write(prepared, stream);
            stream.Flush(_options.FlushToDisk);
        }

        CommitPoint(file, temp, sha, prepared.Length + 8, label);
    }

    /// <summary>
    /// Appends a point asynchronously: the tensors are copied to host memory on the calling thread, then the file and the
    /// manifest are written without blocking it. On cancellation the store keeps its previous points.
    /// </summary>
    /// <param name="point">The parameters (see <see cref="Append"/>).</param>
    /// <param name="label">The point's label.</param>
    /// <param name="cancellationToken">Cancels the write; a canceled point is not added.</param>
    /// <exception cref="ArgumentNullException"><paramref name="point"/> is null.</exception>
    /// <exception cref="InvalidOperationException">The store is not open for appending.</exception>
    /// <exception cref="TrajectoryArchitectureMismatchException">The point's layout differs from the store's.</exception>
    /// <exception cref="OperationCanceledException">The operation was canceled.</exception>
    public async Task AppendAsync(ParameterSet point, TrajectoryPointLabel? label = null, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        byte[] bytes;
        using (var prepared = PrepareAppend(point))
        {
            bytes = PointFileCodec.ToBytes(prepared);
        }

        var sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes));
        var (file, temp) = NextFileNames();
        try
        {
            var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
            await using (stream.ConfigureAwait(false))
            {
                await stream.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
                await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
                if (_options.FlushToDisk)
                {
                    stream.Flush(flushToDisk: true);
                }
            }

            cancellationToken.ThrowIfCancellationRequested();
        }
        catch (OperationCanceledException)
        {
            File.Delete(temp);
            throw;
        }

        CommitPoint(file, temp, sha, bytes.LongLength, label);
    }

    /// <summary>Marks the store complete (the manifest says so) and releases the writer lock; afterwards this instance no longer appends.</summary>
    /// <exception cref="InvalidOperationException">The store is not open for appending.</exception>
    public void Complete()
    {
        lock (_gate)
        {
            EnsureWritable();
            WriteManifest(Copy(_manifest, complete: true, writer: null));
            ReleaseWriterLock();
        }
    }

    /// <summary>
    /// Ends this instance's writing without completing the store (as if its writer had stopped: an incomplete store stays
    /// incomplete) and releases the writer lock. The store can still be read. Does nothing for a reader or a completed writer.
    /// </summary>
    public void Dispose()
    {
        lock (_gate)
        {
            ReleaseWriterLock();
        }
    }

    /// <summary>Reads point <paramref name="index"/> from its file, checking its SHA-256 and header against the manifest.</summary>
    /// <param name="index">The point.</param>
    /// <param name="device">Where to put the tensors; <see langword="null"/> means the CPU.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside the store.</exception>
    /// <exception cref="TrajectoryStoreCorruptedException">The file is missing, truncated, or its checksum or header differs from the manifest.</exception>
    public ParameterSet GetPoint(int index, Device? device = null)
    {
        var (path, entry) = PointFile(index);
        var source = CheckedPointFile(path, entry);
        using var scope = torch.NewDisposeScope();
        ParameterSet cpu;
        try
        {
            using var stream = new FileStream(source, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0, FileOptions.SequentialScan);
            cpu = PointFileCodec.Read(stream, stream.Length, path, Layout, Precision, entry.Sha256);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new TrajectoryStoreCorruptedException(path, "The point file is missing", e);
        }

        var result = device is null || device.type == DeviceType.CPU ? cpu : cpu.To(device);
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>Reads point <paramref name="index"/> asynchronously (the file is read without blocking; tensors are made at the end).</summary>
    /// <param name="index">The point.</param>
    /// <param name="device">Where to put the tensors; <see langword="null"/> means the CPU.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside the store.</exception>
    /// <exception cref="TrajectoryStoreCorruptedException">The file is missing, truncated, or its checksum or header differs from the manifest.</exception>
    /// <exception cref="OperationCanceledException">The operation was canceled.</exception>
    public async Task<ParameterSet> GetPointAsync(int index, Device? device = null, CancellationToken cancellationToken = default)
    {
        var (path, entry) = PointFile(index);
        var source = CheckedPointFile(path, entry);
        byte[] bytes;
        try
        {
            bytes = await File.ReadAllBytesAsync(source, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new TrajectoryStoreCorruptedException(path, "The point file is missing", e);
        }

        return Decode(bytes, path, entry, device);
    }

    /// <summary>Checks every point file against the manifest (existence, size, SHA-256) without making tensors.</summary>
    /// <param name="progress">Receives the number of files checked.</param>
    /// <param name="cancellationToken">Stops between files.</param>
    /// <exception cref="TrajectoryStoreCorruptedException">A file is missing, differs, or is not a regular file inside the store's folder; the exception names it.</exception>
    /// <exception cref="OperationCanceledException">The operation was canceled.</exception>
    public void Verify(IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        for (var i = 0; i < Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var (path, entry) = PointFile(i);
            var sha = PointFileCodec.HashFile(CheckedPointFile(path, entry));
            if (!string.Equals(sha, entry.Sha256, StringComparison.OrdinalIgnoreCase))
            {
                throw new TrajectoryStoreCorruptedException(path, $"The point file's SHA-256 is {sha}, the manifest says {entry.Sha256}");
            }

            progress?.Report(i + 1);
        }
    }

    /// <summary>
    /// The largest difference between a value <paramref name="value"/> and what a store of the given precision gives back
    /// (0 for <see cref="TrajectoryStorePrecision.Full"/>); see <see cref="TrajectoryStorePrecision"/>.
    /// </summary>
    /// <param name="precision">The storage precision.</param>
    /// <param name="value">The original value.</param>
    public static double MaxRoundingError(TrajectoryStorePrecision precision, double value) => precision switch
    {
        TrajectoryStorePrecision.Full => 0.0,
        TrajectoryStorePrecision.Float16 => (Math.Abs(value) * Math.ScaleB(1.0, -11)) + Math.ScaleB(1.0, -25),
        TrajectoryStorePrecision.BFloat16 => (Math.Abs(value) * Math.ScaleB(1.0, -8)) + Math.ScaleB(1.0, -133),
        _ => throw new ArgumentOutOfRangeException(nameof(precision), precision, "Unknown precision."),
    };

    private ParameterSet Decode(byte[] bytes, string path, StorePoint entry, Device? device)
    {
        using var scope = torch.NewDisposeScope();
        using var stream = new MemoryStream(bytes, writable: false);
        var cpu = PointFileCodec.Read(stream, bytes.LongLength, path, Layout, Precision, entry.Sha256);
        var result = device is null || device.type == DeviceType.CPU ? cpu : cpu.To(device);
        return result.MoveToOuterDisposeScope();
    }

    private PointFileCodec.PreparedPoint PrepareAppend(ParameterSet point)
    {
        ArgumentNullException.ThrowIfNull(point);
        lock (_gate)
        {
            EnsureWritable();
        }

        TensorOps.EnsureSameLayout(Layout, point.Layout, null, $"Appending to the trajectory store '{Directory}'");
        return PointFileCodec.Prepare(point, Layout, Precision);
    }

    private (string File, string Temp) NextFileNames()
    {
        lock (_gate)
        {
            var file = string.Create(CultureInfo.InvariantCulture, $"point-{_manifest.Points.Count:D6}.safetensors");
            var path = Path.Combine(Directory, file);
            return (file, path + TempSuffix);
        }
    }

    private void CommitPoint(string file, string temp, string sha, long bytes, TrajectoryPointLabel? label)
    {
        FaultInjection?.Invoke("point-temp-written");
        File.Move(temp, Path.Combine(Directory, file), overwrite: true);
        FaultInjection?.Invoke("point-renamed");
        lock (_gate)
        {
            label ??= new TrajectoryPointLabel(0);
            var next = Copy(_manifest, complete: false, _manifest.Writer);
            next.Points.Add(new StorePoint
            {
                File = file,
                Sha256 = sha,
                Bytes = bytes,
                Step = label.Step,
                Epoch = label.Epoch,
                Lambda = label.Lambda,
                Text = label.Text,
            });
            WriteManifest(next);
        }
    }

    /// <summary>Writes the manifest atomically (temp file, flush, rename) and only then adopts it in memory.</summary>
    private void WriteManifest(StoreManifest next)
    {
        var path = Path.Combine(Directory, ManifestFileName);
        var temp = path + TempSuffix;
        var bytes = StoreManifestFile.Serialize(next);
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            stream.Write(bytes);
            stream.Flush(_options.FlushToDisk);
        }

        FaultInjection?.Invoke("manifest-temp-written");
        File.Move(temp, path, overwrite: true);
        lock (_gate)
        {
            _manifest.Complete = next.Complete;
            _manifest.Points = next.Points;
            _manifest.Writer = next.Writer;
            _labels = [.. next.Points.Select(ToLabel)];
        }
    }

    private (string Path, StorePoint Entry) PointFile(int index)
    {
        lock (_gate)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(index);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, _manifest.Points.Count);
            var entry = _manifest.Points[index];
            return (Path.Combine(Directory, entry.File), entry);
        }
    }

    private void EnsureWritable()
    {
        if (!IsWritable)
        {
            throw new InvalidOperationException($"The trajectory store '{Directory}' is not open for appending; use {nameof(OpenForAppend)}.");
        }
    }

    private static TrajectoryStore Load(string directory, ParameterLayout? expectedLayout, TrajectoryStoreOptions options)
    {
        var path = Path.Combine(directory, ManifestFileName);
        var realDirectory = SafeFiles.RealPath(directory);
        var source = CheckedFile(path, realDirectory, "manifest");
        if (source is null)
        {
            if (File.Exists(path + TempSuffix))
            {
                throw new TrajectoryStoreIncompleteException(directory, 0);
            }

            throw new TrajectoryStoreCorruptedException(path, "The folder holds no trajectory store manifest");
        }

        var manifest = StoreManifestFile.Parse(ReadBounded(source.Value.Path, source.Value.Length, path), path);
        var (layout, precision) = StoreManifestFile.Validate(manifest, path, directory);
        if (expectedLayout is not null)
        {
            TensorOps.EnsureSameLayout(expectedLayout, layout, path, $"Opening the trajectory store '{directory}'");
        }

        var store = new TrajectoryStore(directory, realDirectory, manifest, layout, precision, new TrajectoryStoreOptions { Precision = precision, FlushToDisk = options.FlushToDisk });
        foreach (var point in manifest.Points)
        {
            store.CheckedPointFile(Path.Combine(directory, point.File), point);
        }

        return store;
    }

    /// <summary>
    /// Where to read a point file from: the file itself, or a link's target inside the store's folder; it must be a regular
    /// file of the manifest's size (the size of the target, not of a link).
    /// </summary>
    private string CheckedPointFile(string path, StorePoint entry)
    {
        var source = CheckedFile(path, _realDirectory, "point file")
            ?? throw new TrajectoryStoreCorruptedException(path, "The point file is missing");
        if (source.Length != entry.Bytes)
        {
            throw new TrajectoryStoreCorruptedException(path, $"The point file has {source.Length} bytes; the manifest says {entry.Bytes}");
        }

        return source.Path;
    }

    /// <summary>
    /// Resolves a file of the store: <see langword="null"/> when missing; otherwise the path to open and its length. A
    /// symbolic link must lead inside the store's folder, and what it leads to (or the file) must be a regular file.
    /// </summary>
    private static (string Path, long Length)? CheckedFile(string path, string realDirectory, string what)
    {
        var target = path;
        if (new FileInfo(path).LinkTarget is not null)
        {
            try
            {
                target = SafeFiles.RealPath(path);
            }
            catch (IOException e)
            {
                throw new TrajectoryStoreCorruptedException(path, $"The {what} is a symbolic link that cannot be resolved", e);
            }

            if (!SafeFiles.IsInside(target, realDirectory))
            {
                throw new TrajectoryStoreCorruptedException(path, $"The {what} is a symbolic link to '{target}', outside the store's folder '{realDirectory}'");
            }
        }

        return SafeFiles.GetKind(target, out var length) switch
        {
            SafeFiles.Kind.Missing => null,
            SafeFiles.Kind.Regular => (target, length),
            SafeFiles.Kind.Directory => throw new TrajectoryStoreCorruptedException(path, $"The {what} is a directory, not a regular file"),
            _ => throw new TrajectoryStoreCorruptedException(path, $"The {what} is a FIFO, device or socket, not a regular file; it was not opened"),
        };
    }

    /// <summary>Reads a manifest of at most <see cref="StoreManifestFile.MaxBytes"/>, never more than that even if the file grows meanwhile.</summary>
    private static byte[] ReadBounded(string source, long length, string path)
    {
        if (length > StoreManifestFile.MaxBytes)
        {
            throw new TrajectoryStoreCorruptedException(path, $"The manifest has {length} bytes; at most {StoreManifestFile.MaxBytes} are read");
        }

        using var stream = new FileStream(source, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var bytes = new byte[length];
        SafetensorsFormat.ReadExactly(stream, bytes, path);
        return bytes;
    }

    /// <summary>Describes the writer the manifest records, for a lock conflict's message.</summary>
    private static string? DescribeWriter(string manifestPath)
    {
        try
        {
            var bytes = File.ReadAllBytes(manifestPath);
            return bytes.Length <= StoreManifestFile.MaxBytes ? StoreManifestFile.Parse(bytes, manifestPath).Writer?.ToString() : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or TrajectoryException)
        {
            return null;
        }
    }

    private static bool IsOwnTemporary(string name) =>
        name == ManifestFileName + TempSuffix || TemporaryPointFile().IsMatch(name);

    [GeneratedRegex(@"^point-[0-9]{6,}\.safetensors\.tmp$", RegexOptions.CultureInvariant)]
    private static partial Regex TemporaryPointFile();

    private void ReleaseWriterLock()
    {
        _writerLock?.Dispose();
        _writerLock = null;
    }

    private static StoreManifest Copy(StoreManifest manifest, bool complete, StoreWriter? writer) => new()
    {
        Format = manifest.Format,
        FormatVersion = manifest.FormatVersion,
        Complete = complete,
        Precision = manifest.Precision,
        Architecture = manifest.Architecture,
        Points = [.. manifest.Points],
        Writer = writer,
    };

    private static TrajectoryPointLabel ToLabel(StorePoint point, int index) => new(index, point.Step, point.Epoch, point.Lambda, point.Text);

    private static string PrecisionName(TrajectoryStorePrecision precision) => precision switch
    {
        TrajectoryStorePrecision.Full => "full",
        TrajectoryStorePrecision.Float16 => "float16",
        TrajectoryStorePrecision.BFloat16 => "bfloat16",
        _ => throw new ArgumentOutOfRangeException(nameof(precision), precision, "Unknown precision."),
    };
}
