using System.Text.Json.Serialization;

namespace TrajectoryTransfer.Trajectories;

/// <summary>The JSON manifest of a trajectory store (<c>manifest.json</c>); see <see cref="TrajectoryStore"/>.</summary>
internal sealed class StoreManifest
{
    public const string FormatName = "learningtransfer-trajectory-store";
    public const int CurrentFormatVersion = 1;

    public string Format { get; set; } = FormatName;

    public int FormatVersion { get; set; } = CurrentFormatVersion;

    /// <summary>False while a writer has the store open; true once <see cref="TrajectoryStore.Complete"/> ran.</summary>
    public bool Complete { get; set; }

    public string Precision { get; set; } = "full";

    public StoreArchitecture Architecture { get; set; } = new();

    public List<StorePoint> Points { get; set; } = [];

    /// <summary>Who has the store open for writing (null once complete); for messages only, the lock is the writer lock file.</summary>
    public StoreWriter? Writer { get; set; }

    /// <summary>
    /// SHA-256 of the manifest's bytes before this property (see <see cref="StoreManifestFile"/>); absent in manifests
    /// written before it existed.
    /// </summary>
    public string? ManifestSha256 { get; set; }
}

internal sealed class StoreWriter
{
    public int ProcessId { get; set; }

    public string? Host { get; set; }

    public string? Since { get; set; }

    public override string ToString() => $"process {ProcessId} on host '{Host}', writing since {Since}";
}

internal sealed class StoreArchitecture
{
    public string Fingerprint { get; set; } = "";

    public List<StoreParameter> Parameters { get; set; } = [];
}

internal sealed class StoreParameter
{
    public string Name { get; set; } = "";

    public long[] Shape { get; set; } = [];

    public string DType { get; set; } = "";
}

internal sealed class StorePoint
{
    public string File { get; set; } = "";

    public string Sha256 { get; set; } = "";

    public long Bytes { get; set; }

    public long? Step { get; set; }

    public double? Epoch { get; set; }

    public double? Lambda { get; set; }

    public string? Text { get; set; }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(StoreManifest))]
internal sealed partial class StoreManifestJsonContext : JsonSerializerContext;
