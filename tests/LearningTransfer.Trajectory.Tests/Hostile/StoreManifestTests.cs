using System.Text.Json.Nodes;
using TrajectoryTransfer.Trajectories.Tests.Hostile.Support;
using TrajectoryTransfer.Trajectories.Tests.TestSupport;

namespace TrajectoryTransfer.Trajectories.Tests.Hostile;

/// <summary>
/// Every field of a manifest is checked on open, even in a self-consistent forgery (fingerprint and checksum recomputed),
/// and refused with the corruption exception naming the manifest and the field; nothing forged reaches libtorch.
/// </summary>
public sealed class StoreManifestTests
{
    public static TheoryData<string, string> ForgedShapes => new()
    {
        { "[-1, 4]", "negative" },
        { "[1099511627776]", "2^40 elements: 4 TiB" },
        { "[4294967296, 4294967296]", "product overflows long" },
        { "[3037000500, 3037000500, 4]", "product overflows in bytes" },
        { "[" + string.Join(", ", Enumerable.Repeat("1", 65)) + "]", "65 dimensions" },
    };

    [Theory]
    [MemberData(nameof(ForgedShapes))]
    public void Open_SelfConsistentForgedShape_ThrowsCorruptedNamingShapeField(string shape, string why)
    {
        using var temp = new TempDirectory();
        HostileFiles.WriteStore(temp.Path);
        HostileFiles.Forge(temp.Path, m => m["architecture"]!["parameters"]![0]!["shape"] = JsonNode.Parse(shape));

        var error = Assert.Throws<TrajectoryStoreCorruptedException>(() => TrajectoryStore.Open(temp.Path));

        Assert.Equal(HostileFiles.Manifest(temp.Path), error.FilePath);
        Assert.True(error.Message.Contains("'architecture.parameters[0].shape'", StringComparison.Ordinal), $"{why}: {error.Message}");
    }

    [Theory]
    [InlineData("Float99")]
    [InlineData("999")]
    [InlineData("-1")]
    [InlineData("Float32, Int64")]
    [InlineData("float32")]
    [InlineData("")]
    public void Open_DTypeOutsideTheEnum_ThrowsCorruptedNamingDTypeField(string dtype)
    {
        using var temp = new TempDirectory();
        HostileFiles.WriteStore(temp.Path);
        HostileFiles.Forge(temp.Path, m => m["architecture"]!["parameters"]![1]!["dType"] = dtype);

        var error = Assert.Throws<TrajectoryStoreCorruptedException>(() => TrajectoryStore.Open(temp.Path));

        Assert.Contains("'architecture.parameters[1].dType'", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("lambda", "1e999")]
    [InlineData("lambda", "-1e999")]
    [InlineData("epoch", "1e400")]
    public void Open_NonFiniteLabel_ThrowsCorruptedNamingField(string field, string value)
    {
        using var temp = new TempDirectory();
        HostileFiles.WriteStore(temp.Path);
        HostileFiles.Forge(temp.Path, text: json => ReplaceNumber(json, field, 2, value));

        var error = Assert.Throws<TrajectoryStoreCorruptedException>(() => TrajectoryStore.Open(temp.Path));

        Assert.Contains($"'points[2].{field}'", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("bytes", "-5")]
    [InlineData("bytes", "0")]
    [InlineData("bytes", "9223372036854775807")]
    [InlineData("sha256", "\"xyz\"")]
    [InlineData("sha256", "\"" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg" + "\"")]
    public void Open_PointFieldOutOfRange_ThrowsCorruptedNamingField(string field, string value)
    {
        using var temp = new TempDirectory();
        HostileFiles.WriteStore(temp.Path);
        HostileFiles.Forge(temp.Path, m => m["points"]![0]![field] = JsonNode.Parse(value));

        var error = Assert.Throws<TrajectoryStoreCorruptedException>(() => TrajectoryStore.Open(temp.Path));

        Assert.Contains($"'points[0].{field}'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_TwoPointsNameOneFile_ThrowsCorruptedNamingField()
    {
        using var temp = new TempDirectory();
        HostileFiles.WriteStore(temp.Path);
        HostileFiles.Forge(temp.Path, m => m["points"]![2] = m["points"]![0]!.DeepClone());

        var error = Assert.Throws<TrajectoryStoreCorruptedException>(() => TrajectoryStore.Open(temp.Path));

        Assert.Contains("'points[2].file'", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("precision", "\"half\"", "'precision'")]
    [InlineData("formatVersion", "0", "'formatVersion'")]
    [InlineData("format", "\"something-else\"", "'format'")]
    [InlineData("architecture", "null", "'architecture'")]
    [InlineData("points", "null", "'points'")]
    public void Open_TopLevelFieldOutOfRange_ThrowsCorruptedNamingField(string field, string value, string named)
    {
        using var temp = new TempDirectory();
        HostileFiles.WriteStore(temp.Path);
        HostileFiles.Forge(temp.Path, m => m[field] = JsonNode.Parse(value));

        var error = Assert.Throws<TrajectoryStoreCorruptedException>(() => TrajectoryStore.Open(temp.Path));

        Assert.Contains(named, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_DuplicateParameterName_ThrowsCorruptedNamingField()
    {
        using var temp = new TempDirectory();
        HostileFiles.WriteStore(temp.Path);
        HostileFiles.Forge(temp.Path, m => m["architecture"]!["parameters"]![2]!["name"] = "fc1.weight");

        var error = Assert.Throws<TrajectoryStoreCorruptedException>(() => TrajectoryStore.Open(temp.Path));

        Assert.Contains("'architecture.parameters[2].name'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_NewerFormatVersion_ThrowsTrajectoryExceptionNamingVersionAndFile()
    {
        using var temp = new TempDirectory();
        HostileFiles.WriteStore(temp.Path);
        HostileFiles.Forge(temp.Path, m => m["formatVersion"] = 2);

        var error = Assert.Throws<TrajectoryException>(() => TrajectoryStore.Open(temp.Path));

        Assert.Contains("format version 2", error.Message, StringComparison.Ordinal);
        Assert.Contains(HostileFiles.Manifest(temp.Path), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_FingerprintNotRecomputed_ThrowsCorruptedFingerprint()
    {
        using var temp = new TempDirectory();
        HostileFiles.WriteStore(temp.Path);
        HostileFiles.Forge(temp.Path, m => m["architecture"]!["parameters"]![0]!["shape"] = JsonNode.Parse("[4, 5]"), refingerprint: false);

        var error = Assert.Throws<TrajectoryStoreCorruptedException>(() => TrajectoryStore.Open(temp.Path));

        Assert.Contains("fingerprint", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_LabelEditedWithoutResigning_ThrowsCorruptedChecksum()
    {
        using var temp = new TempDirectory();
        HostileFiles.WriteStore(temp.Path);
        var path = HostileFiles.Manifest(temp.Path);
        File.WriteAllText(path, File.ReadAllText(path).Replace("\"step\": 20", "\"step\": 21", StringComparison.Ordinal));

        var error = Assert.Throws<TrajectoryStoreCorruptedException>(() => TrajectoryStore.Open(temp.Path));

        Assert.Contains("manifestSha256", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_ChecksumNotLastProperty_ThrowsCorrupted()
    {
        using var temp = new TempDirectory();
        HostileFiles.WriteStore(temp.Path);
        var path = HostileFiles.Manifest(temp.Path);
        var json = File.ReadAllText(path).TrimEnd().TrimEnd('}') + ",\n  \"extra\": 1\n}\n";
        File.WriteAllText(path, json);

        var error = Assert.Throws<TrajectoryStoreCorruptedException>(() => TrajectoryStore.Open(temp.Path));

        Assert.Contains("last property", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_ManifestWithoutChecksum_IsReadAndStillFieldChecked()
    {
        // Manifests written before the checksum existed have none; every field is still checked.
        using var temp = new TempDirectory();
        HostileFiles.WriteStore(temp.Path);
        HostileFiles.Forge(temp.Path, sign: false);
        var reader = TrajectoryStore.Open(temp.Path);
        using (var point = reader.GetPoint(2))
        {
            using var expected = TestSets.Random(2);
            TestSets.AssertBitEqual(expected, point);
        }

        HostileFiles.Forge(temp.Path, m => m["points"]![0]!["bytes"] = -1, sign: false);
        var error = Assert.Throws<TrajectoryStoreCorruptedException>(() => TrajectoryStore.Open(temp.Path));
        Assert.Contains("'points[0].bytes'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_ManifestLargerThanLimit_ThrowsWithoutReadingIt()
    {
        using var temp = new TempDirectory();
        HostileFiles.WriteStore(temp.Path);
        using (var manifest = new FileStream(HostileFiles.Manifest(temp.Path), FileMode.Open))
        {
            // Sparse: costs no disk and no time.
            manifest.SetLength(300L << 20);
        }

        var error = Assert.Throws<TrajectoryStoreCorruptedException>(() => TrajectoryStore.Open(temp.Path));

        Assert.Contains("at most", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{")]
    [InlineData("null")]
    [InlineData("[]")]
    [InlineData("{\"format\": 5}")]
    [InlineData("")]
    public void Open_ManifestNotAManifest_ThrowsCorruptedNamingManifest(string content)
    {
        using var temp = new TempDirectory();
        HostileFiles.WriteStore(temp.Path);
        File.WriteAllText(HostileFiles.Manifest(temp.Path), content);

        var error = Assert.Throws<TrajectoryStoreCorruptedException>(() => TrajectoryStore.Open(temp.Path));

        Assert.Equal(HostileFiles.Manifest(temp.Path), error.FilePath);
    }

    /// <summary>Replaces the value of <paramref name="field"/> in the <paramref name="point"/>-th point of the JSON text.</summary>
    private static string ReplaceNumber(string json, string field, int point, string value)
    {
        var node = JsonNode.Parse(json)!;
        var marker = "__REPLACE_ME__";
        node["points"]![point]![field] = marker;
        return node.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true })
            .Replace($"\"{marker}\"", value, StringComparison.Ordinal);
    }
}
