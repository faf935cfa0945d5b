using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using TrajectoryTransfer.Permutations;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Trajectories;

/// <summary>
/// Reads, checks and writes <c>manifest.json</c>. The last property of a written manifest is <c>manifestSha256</c>, the
/// SHA-256 of every byte before the comma that precedes it, so damage anywhere in the manifest (a label, a λ, a size) is
/// detected and not read as data; the checksum covers bytes, not a re-serialization, so a newer writer's extra fields
/// never make an older reader see damage. On reading, every field is checked before it is used.
/// </summary>
internal static class StoreManifestFile
{
    /// <summary>The largest manifest read (about a million points).</summary>
    public const long MaxBytes = 256L << 20;

    private const string ChecksumProperty = "manifestSha256";
    private static readonly string[] WindowsDeviceNames = ["CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9"];

    /// <summary>The manifest's bytes, ending with its checksum property.</summary>
    public static byte[] Serialize(StoreManifest manifest)
    {
        manifest.ManifestSha256 = null;
        var body = JsonSerializer.SerializeToUtf8Bytes(manifest, StoreManifestJsonContext.Default.StoreManifest);
        var end = body.AsSpan().LastIndexOf((byte)'}');
        var covered = body.AsSpan(0, end).TrimEnd(" \t\r\n"u8);
        var sha = Convert.ToHexStringLower(SHA256.HashData(covered));
        var tail = Encoding.UTF8.GetBytes($",\n  \"{ChecksumProperty}\": \"{sha}\"\n}}\n");
        return [.. covered, .. tail];
    }

    /// <summary>Parses a manifest's bytes and checks its checksum when it has one.</summary>
    /// <exception cref="TrajectoryStoreCorruptedException">The bytes are not a manifest, or the checksum differs.</exception>
    public static StoreManifest Parse(byte[] bytes, string path)
    {
        StoreManifest manifest;
        try
        {
            manifest = JsonSerializer.Deserialize(bytes, StoreManifestJsonContext.Default.StoreManifest)
                ?? throw new TrajectoryStoreCorruptedException(path, "The manifest is empty (JSON null)");
        }
        catch (JsonException e)
        {
            throw new TrajectoryStoreCorruptedException(path, "The manifest is not valid JSON of the expected shape", e);
        }

        if (manifest.ManifestSha256 is not null)
        {
            var comma = ChecksumStart(bytes, manifest.ManifestSha256);
            if (comma < 0)
            {
                throw new TrajectoryStoreCorruptedException(path, $"The manifest's field '{ChecksumProperty}' is not its last property as written");
            }

            var actual = Convert.ToHexStringLower(SHA256.HashData(bytes.AsSpan(0, comma)));
            if (!string.Equals(actual, manifest.ManifestSha256, StringComparison.Ordinal))
            {
                throw new TrajectoryStoreCorruptedException(
                    path, $"The manifest's content has SHA-256 {actual}; its field '{ChecksumProperty}' says {manifest.ManifestSha256} (damaged or edited)");
            }
        }

        return manifest;
    }

    /// <summary>
    /// Checks every field of a manifest read from <paramref name="path"/> and builds its layout and precision.
    /// </summary>
    /// <exception cref="TrajectoryStoreCorruptedException">A field is missing or out of range; the message names it.</exception>
    /// <exception cref="TrajectoryException">The manifest was written by a newer format version.</exception>
    public static (ParameterLayout Layout, TrajectoryStorePrecision Precision) Validate(StoreManifest manifest, string path, string directory)
    {
        if (manifest.Format != StoreManifest.FormatName)
        {
            throw Field(path, "format", $"'{manifest.Format}'", $"'{StoreManifest.FormatName}'");
        }

        if (manifest.FormatVersion < 1)
        {
            throw Field(path, "formatVersion", manifest.FormatVersion.ToString(CultureInfo.InvariantCulture), "1 or more");
        }

        if (manifest.FormatVersion > StoreManifest.CurrentFormatVersion)
        {
            throw new TrajectoryException(
                $"The trajectory store '{directory}' has format version {manifest.FormatVersion}; this library reads version {StoreManifest.CurrentFormatVersion} (file: {path}).");
        }

        var precision = manifest.Precision switch
        {
            "full" => TrajectoryStorePrecision.Full,
            "float16" => TrajectoryStorePrecision.Float16,
            "bfloat16" => TrajectoryStorePrecision.BFloat16,
            _ => throw Field(path, "precision", manifest.Precision is null ? "missing" : $"'{manifest.Precision}'", "'full', 'float16' or 'bfloat16'"),
        };

        var layout = ValidateArchitecture(manifest, path);
        ValidatePoints(manifest, path, layout, precision);
        return (layout, precision);
    }

    /// <summary>The bytes a point file of this layout and precision holds besides its JSON header.</summary>
    public static long DataBytes(ParameterLayout layout, TrajectoryStorePrecision precision) =>
        layout.Entries.Sum(e => e.ElementCount * SafetensorsFormat.ElementSize(PointFileCodec.StorageType(e.DType, precision)));

    /// <summary>Whether a point file name is a plain name the store may read (no path, no reserved or temporary name).</summary>
    public static bool IsValidPointFileName(string name) =>
        name.Length is > 0 and <= 255
        && name != "." && name != ".."
        && name == Path.GetFileName(name)
        && name.IndexOfAny(['/', '\\', ':', '\0']) < 0
        && name.IndexOfAny(Path.GetInvalidFileNameChars()) < 0
        && !name.EndsWith(".tmp", StringComparison.OrdinalIgnoreCase)
        && !string.Equals(name, TrajectoryStore.ManifestFileName, SafeFiles.PathComparison)
        && !string.Equals(name, StoreWriterLock.FileName, SafeFiles.PathComparison)
        && !WindowsDeviceNames.Contains(name.Split('.')[0].TrimEnd(' '), StringComparer.OrdinalIgnoreCase);

    private static ParameterLayout ValidateArchitecture(StoreManifest manifest, string path)
    {
        if (manifest.Architecture is null)
        {
            throw Field(path, "architecture", "missing", "an object");
        }

        if (manifest.Architecture.Parameters is null)
        {
            throw Field(path, "architecture.parameters", "missing", "an array");
        }

        var entries = new List<ParameterInfo>(manifest.Architecture.Parameters.Count);
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < manifest.Architecture.Parameters.Count; i++)
        {
            var field = $"architecture.parameters[{i}]";
            var parameter = manifest.Architecture.Parameters[i] ?? throw Field(path, field, "null", "an object");
            if (string.IsNullOrEmpty(parameter.Name))
            {
                throw Field(path, field + ".name", "missing or empty", "a name");
            }

            if (!names.Add(parameter.Name))
            {
                throw Field(path, field + ".name", $"'{parameter.Name}'", "a name no earlier parameter has");
            }

            var dtype = ParseDType(parameter.DType)
                ?? throw Field(path, field + ".dType", parameter.DType is null ? "missing" : $"'{parameter.DType}'", "an element type name such as 'Float32' that a store can hold");
            if (parameter.Shape is null)
            {
                throw Field(path, field + ".shape", "missing", "an array of sizes");
            }

            if (!SafetensorsFormat.TryByteCount(parameter.Shape, dtype, out _, out var bytes) || bytes > SafetensorsFormat.MaxTensorBytes)
            {
                throw Field(
                    path,
                    field + ".shape",
                    ParameterLayout.FormatShape(parameter.Shape),
                    $"at most {SafetensorsFormat.MaxDimensions} non-negative sizes whose {dtype} tensor fits 2 GiB");
            }

            entries.Add(new ParameterInfo(parameter.Name, parameter.Shape, dtype));
        }

        var layout = new ParameterLayout(entries);
        if (layout.Fingerprint() != manifest.Architecture.Fingerprint)
        {
            throw new TrajectoryStoreCorruptedException(path, "The manifest's architecture fingerprint does not match its parameter list");
        }

        return layout;
    }

    private static void ValidatePoints(StoreManifest manifest, string path, ParameterLayout layout, TrajectoryStorePrecision precision)
    {
        if (manifest.Points is null)
        {
            throw Field(path, "points", "missing", "an array");
        }

        var data = DataBytes(layout, precision);
        var files = new HashSet<string>(SafeFiles.PathComparison == StringComparison.Ordinal ? StringComparer.Ordinal : StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < manifest.Points.Count; i++)
        {
            var field = $"points[{i}]";
            var point = manifest.Points[i] ?? throw Field(path, field, "null", "an object");
            if (point.File is null || !IsValidPointFileName(point.File))
            {
                throw Field(path, field + ".file", point.File is null ? "missing" : $"'{point.File}'", "a plain file name in the store's folder");
            }

            if (!files.Add(point.File))
            {
                throw Field(path, field + ".file", $"'{point.File}'", "a file no earlier point names");
            }

            if (point.Sha256 is null || point.Sha256.Length != 64 || !point.Sha256.All(char.IsAsciiHexDigit))
            {
                throw Field(path, field + ".sha256", point.Sha256 is null ? "missing" : $"'{point.Sha256}'", "64 hexadecimal digits");
            }

            // 8 bytes of header length, a JSON header of at least "{}", then exactly the data the architecture needs.
            if (point.Bytes < data + 10 || point.Bytes > data + 8 + SafetensorsFormat.MaxHeaderBytes)
            {
                throw Field(
                    path,
                    field + ".bytes",
                    point.Bytes.ToString(CultureInfo.InvariantCulture),
                    string.Create(CultureInfo.InvariantCulture, $"{data + 10} to {data + 8 + SafetensorsFormat.MaxHeaderBytes} for this architecture"));
            }

            CheckFinite(point.Epoch, path, field + ".epoch");
            CheckFinite(point.Lambda, path, field + ".lambda");
        }
    }

    private static void CheckFinite(double? value, string path, string field)
    {
        if (value is { } v && !double.IsFinite(v))
        {
            throw Field(path, field, v.ToString(CultureInfo.InvariantCulture), "a finite number");
        }
    }

    /// <summary>A defined, storable element type written by name ("Float32"); numbers and flag combinations are refused.</summary>
    private static ScalarType? ParseDType(string? name) =>
        name is { Length: > 0 } && char.IsAsciiLetter(name[0]) && !name.Contains(',', StringComparison.Ordinal)
        && Enum.TryParse<ScalarType>(name, ignoreCase: false, out var dtype) && Enum.IsDefined(dtype) && SafetensorsFormat.IsSupported(dtype)
            ? dtype
            : null;

    /// <summary>
    /// Where the checksum property starts (the index of the comma before it), or −1 unless the manifest ends with
    /// <c>, "manifestSha256": "&lt;hex&gt;" }</c> (whitespace allowed between tokens) holding <paramref name="sha"/>.
    /// </summary>
    private static int ChecksumStart(byte[] bytes, string sha)
    {
        // Read backwards: the closing brace, the hex string, the colon, the property name, then the comma.
        byte[][] tokens = ["}"u8.ToArray(), Encoding.ASCII.GetBytes($"\"{sha}\""), ":"u8.ToArray(), Encoding.ASCII.GetBytes($"\"{ChecksumProperty}\"")];
        var i = bytes.Length - 1;
        foreach (var token in tokens)
        {
            SkipWhitespace(bytes, ref i);
            if (!Expect(bytes, ref i, token))
            {
                return -1;
            }
        }

        SkipWhitespace(bytes, ref i);
        return i >= 0 && bytes[i] == (byte)',' ? i : -1;
    }

    private static void SkipWhitespace(byte[] bytes, ref int i)
    {
        while (i >= 0 && bytes[i] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')
        {
            i--;
        }
    }

    /// <summary>Whether the bytes ending at <paramref name="i"/> are <paramref name="token"/>; moves before it if so.</summary>
    private static bool Expect(byte[] bytes, ref int i, ReadOnlySpan<byte> token)
    {
        var start = i - token.Length + 1;
        if (start < 0 || !bytes.AsSpan(start, token.Length).SequenceEqual(token))
        {
            return false;
        }

        i = start - 1;
        return true;
    }

    private static TrajectoryStoreCorruptedException Field(string path, string field, string seen, string expected) =>
        new(path, $"The manifest's field '{field}' is {seen}; expected {expected}");
}
