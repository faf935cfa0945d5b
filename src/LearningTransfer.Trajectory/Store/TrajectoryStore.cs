using System.Globalization;
using System.Text.Json;
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
/// One writer at a time; reading is safe from any thread while nobody writes. Point files are valid safetensors files
/// (Python's <c>safetensors.torch.load_file</c> reads them).
/// </para>
/// </remarks>
public sealed class TrajectoryStore : ITrajectory
{
    /// <summary>The manifest's file name.</summary>
    public const string ManifestFileName = "manifest.json";

    private const string TempSuffix = ".tmp";
    private readonly Lock _gate = new();
    private readonly StoreManifest _manifest;
    private readonly TrajectoryStoreOptions _options;
    private TrajectoryPointLabel[] _labels;

    private TrajectoryStore(string directory, StoreManifest manifest, ParameterLayout layout, TrajectoryStorePrecision precision, bool writable, TrajectoryStoreOptions options)
    {
        Directory = directory;
        _manifest = manifest;
        Layout = layout;
        Precision = precision;
        IsWritable = writable;
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

    /// <summary>Whether this instance may append (it was created or opened for appending and not yet completed).</summary>
    public bool IsWritable { get; private set; }

    /// <summary>Test hook: called at each stage of a write ("point-temp-written", "point-renamed", "manifest-temp-written").</summary>
    internal Action<string>? FaultInjection { get; set; }

    /// <summary>
    /// Creates a new, empty store in <paramref name="directory"/> (created if needed; it must not hold a store already)
    /// and returns it open for appending.
    /// </summary>
    /// <param name="directory">The folder.</param>
    /// <param name="layout">The architecture every point will have.</param>
    /// <param name="options">Precision and durability; <see langword="null"/> uses <see cref="TrajectoryStoreOptions.Default"/>.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="IOException">The folder already holds a store (open it with <see cref="OpenForAppend"/>), or it cannot be written.</exception>
    public static TrajectoryStore Create(string directory, ParameterLayout layout, TrajectoryStoreOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        ArgumentNullException.ThrowIfNull(layout);
        options ??= TrajectoryStoreOptions.Default;
        var full = Path.GetFullPath(directory);
        if (File.Exists(Path.Combine(full, ManifestFileName)))
        {
            throw new IOException($"'{full}' already holds a trajectory store; open it with {nameof(OpenForAppend)} to add points.");
        }

        System.IO.Directory.CreateDirectory(full);
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
        var store = new TrajectoryStore(full, manifest, layout, options.Precision, writable: true, options);
        store.WriteManifest(manifest);
        return store;
    }

    /// <summary>Opens an existing store for reading.</summary>
    /// <param name="directory">The store's folder.</param>
    /// <param name="allowIncomplete">Whether a store whose writer did not complete it may be read (its complete points); the default is <see langword="false"/>.</param>
    /// <param name="expectedLayout">When given, the store's architecture must equal it.</param>
    /// <exception cref="ArgumentException"><paramref name="directory"/> is null or empty.</exception>
    /// <exception cref="TrajectoryStoreIncompleteException">The store was not completed and <paramref name="allowIncomplete"/> is <see langword="false"/>.</exception>
    /// <exception cref="TrajectoryStoreCorruptedException">The manifest is missing or unreadable, or a point file is missing or has the wrong size.</exception>
    /// <exception cref="TrajectoryArchitectureMismatchException">The store's architecture differs from <paramref name="expectedLayout"/>.</exception>
    public static TrajectoryStore Open(string directory, bool allowIncomplete = false, ParameterLayout? expectedLayout = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        var store = Load(Path.GetFullPath(directory), writable: false, expectedLayout, TrajectoryStoreOptions.Default);
        if (!store.IsComplete && !allowIncomplete)
        {
            throw new TrajectoryStoreIncompleteException(store.Directory, store.Count);
        }

        return store;
    }

    /// <summary>
    /// Opens an existing store (complete or not) to append points. The store is marked incomplete until <see cref="Complete"/>
    /// runs; leftovers of an interrupted writer (temporary files) are removed.
    /// </summary>
    /// <param name="directory">The store's folder.</param>
    /// <param name="expectedLayout">When given, the store's architecture must equal it.</param>
    /// <param name="flushToDisk">Whether files are flushed to the disk before being renamed; the default is <see langword="true"/>.</param>
    /// <exception cref="ArgumentException"><paramref name="directory"/> is null or empty.</exception>
    /// <exception cref="TrajectoryStoreCorruptedException">The manifest is missing or unreadable, or a point file is missing or has the wrong size.</exception>
    /// <exception cref="TrajectoryArchitectureMismatchException">The store's architecture differs from <paramref name="expectedLayout"/>.</exception>
    public static TrajectoryStore OpenForAppend(string directory, ParameterLayout? expectedLayout = null, bool flushToDisk = true)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        var full = Path.GetFullPath(directory);
        var store = Load(full, writable: true, expectedLayout, new TrajectoryStoreOptions { FlushToDisk = flushToDisk });
        foreach (var temp in System.IO.Directory.EnumerateFiles(full, "*" + TempSuffix))
        {
            File.Delete(temp);
        }

        if (store._manifest.Complete)
        {
            store.WriteManifest(Copy(store._manifest, complete: false));
        }

        return store;
    }

    /// <summary>Writes every point of <paramref name="source"/> to a new store in <paramref name="directory"/> and completes it.</summary>
    /// <param name="source">The trajectory to store.</param>
    /// <param name="directory">The folder (see <see cref="Create"/>).</param>
    /// <param name="options">Precision and durability.</param>
    /// <param name="progress">Receives the number of points written after each point.</param>
    /// <param name="cancellationToken">Stops between points; the store is then left incomplete.</param>
    /// <exception cref="ArgumentNullException"><paramref name="source"/> is null.</exception>
    /// <exception cref="IOException">The folder already holds a store or cannot be written.</exception>
    /// <exception cref="OperationCanceledException">The operation was canceled.</exception>
    public static TrajectoryStore CreateFrom(ITrajectory source, string directory, TrajectoryStoreOptions? options = null, IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        var store = Create(directory, source.Layout, options);
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

    /// <summary>Marks the store complete (the manifest says so); afterwards this instance no longer appends.</summary>
    /// <exception cref="InvalidOperationException">The store is not open for appending.</exception>
    public void Complete()
    {
        lock (_gate)
        {
            EnsureWritable();
            WriteManifest(Copy(_manifest, complete: true));
            IsWritable = false;
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
        using var scope = torch.NewDisposeScope();
        ParameterSet cpu;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0, FileOptions.SequentialScan);
            cpu = PointFileCodec.Read(stream, path, Layout, Precision, entry.Sha256);
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
        byte[] bytes;
        try
        {
            bytes = await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
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
    /// <exception cref="TrajectoryStoreCorruptedException">A file is missing or differs; the exception names it.</exception>
    /// <exception cref="OperationCanceledException">The operation was canceled.</exception>
    public void Verify(IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        for (var i = 0; i < Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var (path, entry) = PointFile(i);
            CheckFileSize(path, entry);
            var sha = PointFileCodec.HashFile(path);
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
        var cpu = PointFileCodec.Read(stream, path, Layout, Precision, entry.Sha256);
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
            var next = Copy(_manifest, complete: false);
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
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            JsonSerializer.Serialize(stream, next, StoreManifestJsonContext.Default.StoreManifest);
            stream.Flush(_options.FlushToDisk);
        }

        FaultInjection?.Invoke("manifest-temp-written");
        File.Move(temp, path, overwrite: true);
        lock (_gate)
        {
            _manifest.Complete = next.Complete;
            _manifest.Points = next.Points;
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

    private static TrajectoryStore Load(string directory, bool writable, ParameterLayout? expectedLayout, TrajectoryStoreOptions options)
    {
        var path = Path.Combine(directory, ManifestFileName);
        if (!File.Exists(path))
        {
            if (File.Exists(path + TempSuffix))
            {
                throw new TrajectoryStoreIncompleteException(directory, 0);
            }

            throw new TrajectoryStoreCorruptedException(path, "The folder holds no trajectory store manifest");
        }

        StoreManifest manifest;
        try
        {
            using var stream = File.OpenRead(path);
            manifest = JsonSerializer.Deserialize(stream, StoreManifestJsonContext.Default.StoreManifest)
                ?? throw new TrajectoryStoreCorruptedException(path, "The manifest is empty");
        }
        catch (JsonException e)
        {
            throw new TrajectoryStoreCorruptedException(path, "The manifest is not valid JSON", e);
        }

        if (manifest.Format != StoreManifest.FormatName)
        {
            throw new TrajectoryStoreCorruptedException(path, $"The manifest's format is '{manifest.Format}', not '{StoreManifest.FormatName}'");
        }

        if (manifest.FormatVersion > StoreManifest.CurrentFormatVersion || manifest.FormatVersion < 1)
        {
            throw new TrajectoryException(
                $"The trajectory store '{directory}' has format version {manifest.FormatVersion}; this library reads version {StoreManifest.CurrentFormatVersion}.");
        }

        if (manifest.Architecture?.Parameters is null || manifest.Points is null || manifest.Precision is null
            || manifest.Architecture.Parameters.Any(p => p?.Name is null || p.Shape is null || p.DType is null)
            || manifest.Points.Any(p => p?.File is null || p.Sha256 is null))
        {
            throw new TrajectoryStoreCorruptedException(path, "The manifest lacks required fields");
        }

        ParameterLayout layout;
        TrajectoryStorePrecision precision;
        try
        {
            layout = new ParameterLayout(manifest.Architecture.Parameters.Select(p => new ParameterInfo(p.Name, p.Shape, Enum.Parse<ScalarType>(p.DType))));
            precision = ParsePrecision(manifest.Precision);
        }
        catch (ArgumentException e)
        {
            throw new TrajectoryStoreCorruptedException(path, "The manifest's architecture or precision cannot be read", e);
        }

        if (layout.Fingerprint() != manifest.Architecture.Fingerprint)
        {
            throw new TrajectoryStoreCorruptedException(path, "The manifest's architecture fingerprint does not match its parameter list");
        }

        if (expectedLayout is not null)
        {
            TensorOps.EnsureSameLayout(expectedLayout, layout, path, $"Opening the trajectory store '{directory}'");
        }

        foreach (var point in manifest.Points)
        {
            if (point.File.Length == 0 || point.File != Path.GetFileName(point.File))
            {
                throw new TrajectoryStoreCorruptedException(path, $"The manifest names an invalid point file '{point.File}'");
            }

            CheckFileSize(Path.Combine(directory, point.File), point);
        }

        return new TrajectoryStore(directory, manifest, layout, precision, writable, new TrajectoryStoreOptions { Precision = precision, FlushToDisk = options.FlushToDisk });
    }

    private static void CheckFileSize(string path, StorePoint entry)
    {
        var info = new FileInfo(path);
        if (!info.Exists)
        {
            throw new TrajectoryStoreCorruptedException(path, "The point file is missing");
        }

        if (info.Length != entry.Bytes)
        {
            throw new TrajectoryStoreCorruptedException(path, $"The point file has {info.Length} bytes; the manifest says {entry.Bytes}");
        }
    }

    private static StoreManifest Copy(StoreManifest manifest, bool complete) => new()
    {
        Format = manifest.Format,
        FormatVersion = manifest.FormatVersion,
        Complete = complete,
        Precision = manifest.Precision,
        Architecture = manifest.Architecture,
        Points = [.. manifest.Points],
    };

    private static TrajectoryPointLabel ToLabel(StorePoint point, int index) => new(index, point.Step, point.Epoch, point.Lambda, point.Text);

    private static string PrecisionName(TrajectoryStorePrecision precision) => precision switch
    {
        TrajectoryStorePrecision.Full => "full",
        TrajectoryStorePrecision.Float16 => "float16",
        TrajectoryStorePrecision.BFloat16 => "bfloat16",
        _ => throw new ArgumentOutOfRangeException(nameof(precision), precision, "Unknown precision."),
    };

    private static TrajectoryStorePrecision ParsePrecision(string name) => name switch
    {
        "full" => TrajectoryStorePrecision.Full,
        "float16" => TrajectoryStorePrecision.Float16,
        "bfloat16" => TrajectoryStorePrecision.BFloat16,
        _ => throw new ArgumentException($"Unknown precision '{name}'.", nameof(name)),
    };
}
