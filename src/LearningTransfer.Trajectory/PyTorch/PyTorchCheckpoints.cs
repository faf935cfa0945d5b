using System.Buffers.Binary;
using System.Globalization;
using TorchSharp;
using TorchSharp.PyBridge;
using TrajectoryTransfer.Permutations;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Trajectories;

/// <summary>
/// A trajectory read from PyTorch checkpoints, one state_dict file per point: <c>.pt</c>/<c>.pth</c> files written by
/// <c>torch.save(model.state_dict(), path)</c> (zip format) or <c>.safetensors</c> files. Reading point t reads only its file.
/// Also exports any trajectory to such files.
/// </summary>
/// <remarks>
/// <para>
/// Order of points: <see cref="Open(string, ParameterLayout?)"/> sorts the file names naturally (<c>step_2</c> before
/// <c>step_10</c>); <see cref="Open(IEnumerable{string}, ParameterLayout?)"/> keeps the order given. Each point's label has
/// the file name as text and the last number in the name as step.
/// </para>
/// <para>
/// Order of names: the layout given, or else the first file's own order (the state_dict order <c>torch.save</c> wrote; for
/// safetensors, the header's order). Every file must have the same names and shapes; element types are converted to
/// the layout's within a family (float64 to float32, int32 to int64), never across families (an integer tensor where the
/// layout has a float one is refused: that is a different file, or a damaged one).
/// </para>
/// <para>
/// Files may come from anywhere, so reading them is validated: a <c>.pt</c> pickle is interpreted without running anything
/// (only the calls a state_dict needs are understood, as descriptions), every tensor view is checked against its storage
/// and then copied to a new contiguous tensor (non-contiguous tensors load as in PyTorch), safetensors offsets must tile the
/// data section exactly with byte counts matching dtype × shape, and no size a file states is allocated before it is checked
/// against the file's length. Every malformed file gives <see cref="TrajectoryStoreCorruptedException"/> naming it. Writing
/// (<see cref="Export"/>) uses TorchSharp.PyBridge.
/// </para>
/// </remarks>
public sealed class PyTorchCheckpoints : ITrajectory
{
    private static readonly string[] PtExtensions = [".pt", ".pth"];
    private const string SafetensorsExtension = ".safetensors";
    private readonly string[] _files;
    private readonly TrajectoryPointLabel[] _labels;

    private PyTorchCheckpoints(string[] files, ParameterLayout layout)
    {
        _files = files;
        Layout = layout;
        _labels = [.. files.Select((file, i) => new TrajectoryPointLabel(i, Step: LastNumber(Path.GetFileNameWithoutExtension(file)), Text: Path.GetFileName(file)))];
    }

    /// <summary>The checkpoint files, in point order.</summary>
    public IReadOnlyList<string> Files => _files;

    /// <inheritdoc />
    public int Count => _files.Length;

    /// <inheritdoc />
    public ParameterLayout Layout { get; }

    /// <inheritdoc />
    public IReadOnlyList<TrajectoryPointLabel> Labels => _labels;

    /// <summary>
    /// Opens the <c>.pt</c>, <c>.pth</c> and <c>.safetensors</c> files of a folder, in natural order of their names, as a trajectory.
    /// Reads the first file to learn the layout unless <paramref name="layout"/> is given.
    /// </summary>
    /// <param name="directory">The folder.</param>
    /// <param name="layout">The names (in order), shapes and element types of the points; <see langword="null"/> takes them from the first file.</param>
    /// <exception cref="ArgumentException"><paramref name="directory"/> is empty, or holds no checkpoint, or holds both <c>.pt</c> and <c>.safetensors</c> files.</exception>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="TrajectoryStoreCorruptedException">The first file cannot be read as a state_dict.</exception>
    /// <exception cref="TrajectoryArchitectureMismatchException">The first file does not fit <paramref name="layout"/>.</exception>
    public static PyTorchCheckpoints Open(string directory, ParameterLayout? layout = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        var files = System.IO.Directory.EnumerateFiles(directory)
            .Where(f => PtExtensions.Contains(Path.GetExtension(f), StringComparer.OrdinalIgnoreCase)
                || string.Equals(Path.GetExtension(f), SafetensorsExtension, StringComparison.OrdinalIgnoreCase))
            .Order(Comparer<string>.Create((a, b) => NaturalStringComparer.Instance.Compare(Path.GetFileName(a), Path.GetFileName(b))))
            .ToArray();
        if (files.Length == 0)
        {
            throw new ArgumentException($"'{directory}' holds no .pt, .pth or .safetensors file.", nameof(directory));
        }

        var safetensors = files.Count(f => string.Equals(Path.GetExtension(f), SafetensorsExtension, StringComparison.OrdinalIgnoreCase));
        if (safetensors != 0 && safetensors != files.Length)
        {
            throw new ArgumentException(
                $"'{directory}' holds both .pt/.pth and .safetensors files; pass the files of one trajectory, in order, to {nameof(Open)}(IEnumerable<string>).",
                nameof(directory));
        }

        return Open(files, layout);
    }

    /// <summary>Opens the given checkpoint files, in the order given, as a trajectory.</summary>
    /// <param name="files">The files; the format of each is recognised from its content.</param>
    /// <param name="layout">The names (in order), shapes and element types of the points; <see langword="null"/> takes them from the first file.</param>
    /// <exception cref="ArgumentNullException"><paramref name="files"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="files"/> is empty.</exception>
    /// <exception cref="FileNotFoundException">A file does not exist.</exception>
    /// <exception cref="TrajectoryStoreCorruptedException">The first file cannot be read as a state_dict.</exception>
    /// <exception cref="TrajectoryArchitectureMismatchException">The first file does not fit <paramref name="layout"/>.</exception>
    public static PyTorchCheckpoints Open(IEnumerable<string> files, ParameterLayout? layout = null)
    {
        ArgumentNullException.ThrowIfNull(files);
        var paths = files.Select(Path.GetFullPath).ToArray();
        if (paths.Length == 0)
        {
            throw new ArgumentException("At least one checkpoint file is needed.", nameof(files));
        }

        foreach (var path in paths)
        {
            if (!File.Exists(path))
            {
                throw new FileNotFoundException($"The checkpoint file '{path}' does not exist.", path);
            }
        }

        if (layout is null)
        {
            using var scope = torch.NewDisposeScope();
            using var first = Load(paths[0]);
            layout = first.Layout;
        }

        return new PyTorchCheckpoints(paths, layout);
    }

    /// <inheritdoc />
    /// <exception cref="TrajectoryStoreCorruptedException">The file is missing or cannot be read as a state_dict; the exception names it.</exception>
    /// <exception cref="TrajectoryArchitectureMismatchException">The file's names or shapes differ from <see cref="Layout"/>, or an element type is of another family.</exception>
    public ParameterSet GetPoint(int index, Device? device = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        return Load(_files[index], Layout, device);
    }

    /// <summary>Reads one state_dict file (<c>.pt</c>/<c>.pth</c> zip or safetensors, recognised from its content) into a new set the caller owns.</summary>
    /// <param name="file">The file.</param>
    /// <param name="layout">When given, the names and shapes the file must have, the order and element types of the result; otherwise the file's own.</param>
    /// <param name="device">Where to put the tensors; <see langword="null"/> means the CPU.</param>
    /// <exception cref="ArgumentException"><paramref name="file"/> is null or empty.</exception>
    /// <exception cref="TrajectoryStoreCorruptedException">The file is missing or cannot be read as a state_dict.</exception>
    /// <exception cref="TrajectoryArchitectureMismatchException">
    /// The file's names or shapes differ from <paramref name="layout"/>, or an element type would have to be converted between
    /// families (floating-point, integer, bool, complex).
    /// </exception>
    public static ParameterSet Load(string file, ParameterLayout? layout = null, Device? device = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(file);
        using var scope = torch.NewDisposeScope();
        var tensors = ReadStateDict(file);
        var order = layout?.Names.ToArray() ?? tensors.Keys.ToArray();
        if (layout is not null)
        {
            var read = new ParameterLayout(tensors.Select(kv => new ParameterInfo(kv.Key, kv.Value.shape, kv.Value.dtype)));
            if (layout.FirstDifference(read, ignoreDType: true) is { } difference)
            {
                throw new TrajectoryArchitectureMismatchException(difference, file, "Reading a PyTorch checkpoint");
            }
        }

        var entries = new List<KeyValuePair<string, Tensor>>(order.Length);
        foreach (var name in order)
        {
            var tensor = tensors[name];
            if (layout is not null && layout.TryGet(name, out var info) && info.DType != tensor.dtype)
            {
                if (Kind(info.DType) != Kind(tensor.dtype))
                {
                    throw new TrajectoryArchitectureMismatchException(
                        $"'{name}' is {tensor.dtype} in the file and {info.DType} in the layout; element types are converted only within floating-point or within integer types",
                        file,
                        "Reading a PyTorch checkpoint");
                }

                tensor = tensor.to(info.DType);
            }

            if (device is not null && !TensorOps.SameDevice(tensor.device, device))
            {
                tensor = tensor.to(device);
            }

            entries.Add(new(name, tensor));
        }

        return new ParameterSet(entries).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Writes every point of <paramref name="trajectory"/> to <paramref name="directory"/> as
    /// <c>{prefix}{index}.pt</c> or <c>{prefix}{index}.safetensors</c> (files of the same names are replaced), each written to
    /// a temporary name and renamed, and returns the paths in order. PyTorch loads them with <c>torch.load</c> or
    /// <c>safetensors.torch.load_file</c> and <c>model.load_state_dict</c>.
    /// </summary>
    /// <param name="trajectory">The trajectory to export.</param>
    /// <param name="directory">The folder (created if needed).</param>
    /// <param name="format">The file format.</param>
    /// <param name="fileNamePrefix">The start of every file name; the default is <c>"step_"</c>.</param>
    /// <param name="progress">Receives the number of files written.</param>
    /// <param name="cancellationToken">Stops between files.</param>
    /// <exception cref="ArgumentNullException"><paramref name="trajectory"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="directory"/> is empty or <paramref name="fileNamePrefix"/> holds a path separator.</exception>
    /// <exception cref="OperationCanceledException">The operation was canceled.</exception>
    public static IReadOnlyList<string> Export(
        ITrajectory trajectory,
        string directory,
        PyTorchCheckpointFormat format,
        string fileNamePrefix = "step_",
        IProgress<int>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(trajectory);
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        ArgumentNullException.ThrowIfNull(fileNamePrefix);
        if (fileNamePrefix.IndexOfAny(['/', '\\']) >= 0)
        {
            throw new ArgumentException($"The file name prefix '{fileNamePrefix}' holds a path separator.", nameof(fileNamePrefix));
        }

        System.IO.Directory.CreateDirectory(directory);
        var extension = format == PyTorchCheckpointFormat.Pt ? ".pt" : SafetensorsExtension;
        var paths = new List<string>(trajectory.Count);
        for (var i = 0; i < trajectory.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var path = Path.GetFullPath(Path.Combine(directory, string.Create(CultureInfo.InvariantCulture, $"{fileNamePrefix}{i}{extension}")));
            using (var scope = torch.NewDisposeScope())
            {
                using var point = trajectory.GetPoint(i, torch.CPU);
                var stateDict = new Dictionary<string, Tensor>(point.Count, StringComparer.Ordinal);
                foreach (var (name, tensor) in point)
                {
                    stateDict.Add(name, tensor.contiguous());
                }

                var temp = path + ".tmp";
                using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
                {
                    if (format == PyTorchCheckpointFormat.Pt)
                    {
                        PyTorchPickler.PickleStateDict(stream, stateDict, leaveOpen: true);
                    }
                    else
                    {
                        Safetensors.SaveStateDict(stream, stateDict, leaveOpen: true);
                    }

                    stream.Flush(flushToDisk: true);
                }

                File.Move(temp, path, overwrite: true);
            }

            paths.Add(path);
            progress?.Report(i + 1);
        }

        return paths;
    }

    /// <summary>
    /// Reads a state_dict into name → tensor, in the file's order, inside the caller's dispose scope. Only a regular file is
    /// opened (a FIFO or device would block or never end); the format is recognised from the content.
    /// </summary>
    private static Dictionary<string, Tensor> ReadStateDict(string file)
    {
        switch (SafeFiles.GetKind(file, out _))
        {
            case SafeFiles.Kind.Missing:
                throw new TrajectoryStoreCorruptedException(file, "The checkpoint file is missing");
            case SafeFiles.Kind.Directory:
                throw new TrajectoryStoreCorruptedException(file, "The checkpoint path is a directory, not a file");
            case SafeFiles.Kind.Special:
                throw new TrajectoryStoreCorruptedException(file, "The checkpoint path is a FIFO, device or socket, not a regular file; it was not opened");
        }

        try
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            var length = stream.Length;
            Span<byte> start = stackalloc byte[9];
            var read = stream.ReadAtLeast(start, start.Length, throwOnEndOfStream: false);
            stream.Position = 0;
            var format = Recognise(start[..read], length, Path.GetExtension(file));
            var tensors = format switch
            {
                CheckpointKind.TorchZip => TorchZipFormat.ReadTensors(stream, length, file),
                CheckpointKind.Safetensors => SafetensorsFormat.ReadTensors(stream, length, file),
                CheckpointKind.LegacyTorch => throw new TrajectoryStoreCorruptedException(
                    file, "The file was written by torch.save's legacy format (before PyTorch 1.6); re-save it with a current torch.save"),
                _ => throw new TrajectoryStoreCorruptedException(file, "The file is neither a torch.save zip archive nor a safetensors file"),
            };
            var result = new Dictionary<string, Tensor>(tensors.Count, StringComparer.Ordinal);
            foreach (var (name, tensor) in tensors)
            {
                if (!result.TryAdd(name, tensor))
                {
                    throw new TrajectoryStoreCorruptedException(file, $"The checkpoint holds '{name}' twice");
                }
            }

            return result;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new TrajectoryStoreCorruptedException(file, "The checkpoint file is missing", e);
        }
        catch (InvalidDataException e)
        {
            throw new TrajectoryStoreCorruptedException(file, "The checkpoint's zip archive is damaged", e);
        }
    }

    /// <summary>The family an element type belongs to: converting across families (an integer read as a float) would hide damage.</summary>
    private static int Kind(ScalarType dtype) => dtype switch
    {
        ScalarType.Bool => 0,
        ScalarType.Byte or ScalarType.Int8 or ScalarType.Int16 or ScalarType.Int32 or ScalarType.Int64 => 1,
        ScalarType.ComplexFloat32 or ScalarType.ComplexFloat64 => 3,
        _ => 2,
    };

    private enum CheckpointKind
    {
        Unknown,
        TorchZip,
        Safetensors,
        LegacyTorch,
    }

    private static CheckpointKind Recognise(ReadOnlySpan<byte> start, long length, string extension)
    {
        if (start.Length >= 4 && BinaryPrimitives.ReadUInt32LittleEndian(start) == 0x04034b50)
        {
            return CheckpointKind.TorchZip;
        }

        // Legacy torch.save files begin with a pickled magic number (protocol 2: 0x80 0x02, then a LONG1 opcode).
        if (start.Length >= 3 && start[0] == 0x80 && start[1] == 0x02 && start[2] == 0x8a)
        {
            return CheckpointKind.LegacyTorch;
        }

        // Safetensors: so named (its reader then says precisely what is wrong), or a little-endian header length that fits
        // the file followed by the header's opening brace.
        return string.Equals(extension, SafetensorsExtension, StringComparison.OrdinalIgnoreCase)
            || (start.Length == 9 && BinaryPrimitives.ReadUInt64LittleEndian(start) <= (ulong)Math.Max(0, length - 8) && start[8] == (byte)'{')
            ? CheckpointKind.Safetensors
            : CheckpointKind.Unknown;
    }

    private static long? LastNumber(string name)
    {
        var end = name.Length;
        while (end > 0 && !char.IsAsciiDigit(name[end - 1]))
        {
            end--;
        }

        var start = end;
        while (start > 0 && char.IsAsciiDigit(name[start - 1]))
        {
            start--;
        }

        return end > start && long.TryParse(name.AsSpan(start, end - start), NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : null;
    }
}
