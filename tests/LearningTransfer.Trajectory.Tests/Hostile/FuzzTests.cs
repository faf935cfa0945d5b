using System.Globalization;
using TrajectoryTransfer.Permutations;
using TrajectoryTransfer.Trajectories.Tests.Hostile.Support;
using TrajectoryTransfer.Trajectories.Tests.TestSupport;
using Xunit.Sdk;

namespace TrajectoryTransfer.Trajectories.Tests.Hostile;

/// <summary>
/// Seeded byte-level fuzzing of real files: each iteration damages one file in one way (a bit flip, a random byte, a run of
/// random bytes, an insertion, a deletion, a swap, truncation or extension) and reads. Every read must either give back
/// exactly the original data or throw the library's exception for a damaged file; any other exception, any other data, or
/// a read that does not return within the hang guard fails the test. Fixed seeds and iteration counts keep it
/// deterministic.
/// </summary>
public sealed class FuzzTests
{
    private const int Iterations = 400;
    private const int HangGuardSeconds = 240;

    [Fact]
    public void Store_MutatedManifestOrPointFile_ReadsOriginalOrThrowsCorrupted()
    {
        using var temp = new TempDirectory();
        var store = HostileFiles.NewStore(temp);
        string[] files = [HostileFiles.Manifest(store), HostileFiles.Point(store, 0), HostileFiles.Point(store, 1), HostileFiles.Point(store, 2)];
        var originals = files.ToDictionary(f => f, File.ReadAllBytes);
        var labels = TrajectoryStore.Open(store).Labels.ToArray();
        var rng = new Random(20260611);

        var (intact, refused) = HostileFiles.WithinHangGuard(
            () => Fuzz(rng, () => rng.Next(10) < 3 ? files[0] : files[1 + rng.Next(3)], originals, position: null, read: () =>
            {
                var reader = TrajectoryStore.Open(store);
                Assert.Equal(labels, reader.Labels);
                for (var i = 0; i < 3; i++)
                {
                    using var point = reader.GetPoint(i);
                    using var expected = TestSets.Random(i);
                    TestSets.AssertBitEqual(expected, point);
                }
            }),
            HangGuardSeconds);

        Assert.Equal(Iterations, intact + refused);
        Assert.True(refused > Iterations / 2, $"only {refused} of {Iterations} damaged stores were refused");
    }

    [Fact]
    public void Safetensors_MutatedHeaderOrLength_ReadsOriginalOrThrowsCorruptedOrMismatch()
    {
        // Safetensors has no checksum, so a damaged data byte cannot be noticed by any reader: in-place damage is limited
        // to the length field and the JSON header; truncation, extension, insertion and deletion may hit the data too.
        using var temp = new TempDirectory();
        using var start = TestSets.Random(1);
        using var end = TestSets.Random(2);
        using var linear = new LinearTrajectory(start, end, 1, TrajectorySchedule.Uniform);
        var files = PyTorchCheckpoints.Export(linear, temp.Path, PyTorchCheckpointFormat.Safetensors);
        var target = files[1];
        var originals = new Dictionary<string, byte[]> { [target] = File.ReadAllBytes(target) };
        var headerEnd = 8 + (int)BitConverter.ToUInt64(originals[target], 0);
        var layout = PyTorchCheckpoints.Open(files).Layout;
        var rng = new Random(77);

        var (intact, refused) = HostileFiles.WithinHangGuard(
            () => Fuzz(rng, () => target, originals, position: () => rng.Next(headerEnd), read: () =>
            {
                using var point = PyTorchCheckpoints.Load(target, layout);
                TestSets.AssertBitEqual(end, point);
            }),
            HangGuardSeconds);

        Assert.Equal(Iterations, intact + refused);
        Assert.True(refused > Iterations / 2, $"only {refused} of {Iterations} damaged files were refused");
    }

    [Fact]
    public void TorchZip_MutatedAnywhere_ReadsOriginalOrThrowsCorruptedOrMismatch()
    {
        using var temp = new TempDirectory();
        var target = temp.Sub("step_0.pt");
        File.Copy(Path.Combine(AppContext.BaseDirectory, "Fixtures", "pytorch-trajectory", "step_0.pt"), target);
        var originals = new Dictionary<string, byte[]> { [target] = File.ReadAllBytes(target) };
        using var expected = PyTorchCheckpoints.Load(target);
        var layout = expected.Layout;
        var rng = new Random(4242);

        var (intact, refused) = HostileFiles.WithinHangGuard(
            () => Fuzz(rng, () => target, originals, position: null, read: () =>
            {
                using var point = PyTorchCheckpoints.Load(target, layout);
                TestSets.AssertBitEqual(expected, point);
            }),
            HangGuardSeconds);

        Assert.Equal(Iterations, intact + refused);
        Assert.True(refused > Iterations / 4, $"only {refused} of {Iterations} damaged archives were refused");
    }

    /// <summary>Damages one file per iteration, reads, restores; returns how many reads gave the original and how many were refused.</summary>
    private static (int Intact, int Refused) Fuzz(Random rng, Func<string> pickFile, Dictionary<string, byte[]> originals, Func<int>? position, Action read)
    {
        int intact = 0, refused = 0;
        for (var iteration = 0; iteration < Iterations; iteration++)
        {
            var file = pickFile();
            var (damaged, how) = Mutate(originals[file], rng, position);
            File.WriteAllBytes(file, damaged);
            var context = string.Create(CultureInfo.InvariantCulture, $"iteration {iteration}: {Path.GetFileName(file)} {how}");
            try
            {
                read();
                intact++;
            }
            catch (Exception e) when (e is TrajectoryStoreCorruptedException or TrajectoryArchitectureMismatchException)
            {
                if (e is TrajectoryArchitectureMismatchException && file.EndsWith(".safetensors", StringComparison.Ordinal) && file.Contains("point-", StringComparison.Ordinal))
                {
                    Assert.Fail($"{context}: a store point gave {e.GetType().Name}, not the corruption exception: {e.Message}");
                }

                refused++;
            }
            catch (XunitException e)
            {
                Assert.Fail($"{context}: the read returned other data than the original: {e.Message}");
            }
            catch (Exception e)
            {
                Assert.Fail($"{context}: {e.GetType().Name} instead of the library's exception: {e}");
            }
            finally
            {
                File.WriteAllBytes(file, originals[file]);
            }
        }

        return (intact, refused);
    }

    private static (byte[] Damaged, string How) Mutate(byte[] original, Random rng, Func<int>? position)
    {
        int At() => position?.Invoke() ?? rng.Next(original.Length);
        var bytes = (byte[])original.Clone();
        switch (rng.Next(8))
        {
            case 0:
                {
                    var at = At();
                    var bit = rng.Next(8);
                    bytes[at] ^= (byte)(1 << bit);
                    return (bytes, $"bit {bit} of byte {at} flipped");
                }

            case 1:
                {
                    var at = At();
                    bytes[at] = (byte)rng.Next(256);
                    return (bytes, $"byte {at} set to {bytes[at]}");
                }

            case 2:
                {
                    var at = At();
                    var run = Math.Min(2 + rng.Next(7), bytes.Length - at);
                    rng.NextBytes(bytes.AsSpan(at, run));
                    return (bytes, $"{run} bytes from {at} randomised");
                }

            case 3:
                {
                    var length = rng.Next(original.Length);
                    return (original[..length], $"truncated to {length} bytes");
                }

            case 4:
                {
                    var extra = new byte[1 + rng.Next(16)];
                    rng.NextBytes(extra);
                    return ([.. original, .. extra], $"{extra.Length} bytes appended");
                }

            case 5:
                {
                    var at = rng.Next(original.Length + 1);
                    return ([.. original.AsSpan(0, at), (byte)rng.Next(256), .. original.AsSpan(at)], $"a byte inserted at {at}");
                }

            case 6:
                {
                    var at = rng.Next(original.Length);
                    return ([.. original.AsSpan(0, at), .. original.AsSpan(at + 1)], $"byte {at} deleted");
                }

            default:
                {
                    var (a, b) = (At(), At());
                    (bytes[a], bytes[b]) = (bytes[b], bytes[a]);
                    return (bytes, $"bytes {a} and {b} swapped");
                }
        }
    }
}
