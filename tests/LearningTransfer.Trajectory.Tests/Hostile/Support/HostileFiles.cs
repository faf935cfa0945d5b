using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using TrajectoryTransfer.Trajectories.Tests.TestSupport;

namespace TrajectoryTransfer.Trajectories.Tests.Hostile.Support;

/// <summary>A fact that runs only on Linux (FIFOs via mkfifo, statx, SIGKILL semantics); elsewhere it is reported as skipped.</summary>
public sealed class LinuxFactAttribute : FactAttribute
{
    /// <summary>Marks the test skipped off Linux.</summary>
    public LinuxFactAttribute()
    {
        if (!OperatingSystem.IsLinux())
        {
            Skip = "Linux only.";
        }
    }
}

/// <summary>Helpers that build stores, manifests and files the way an attacker would.</summary>
internal static class HostileFiles
{
    /// <summary>A complete store of <paramref name="points"/> random points with labels (λ = i / 4).</summary>
    public static void WriteStore(string directory, int points = 3, TrajectoryStorePrecision precision = TrajectoryStorePrecision.Full)
    {
        using var first = TestSets.Random(0);
        using var store = TrajectoryStore.Create(directory, first.Layout, new TrajectoryStoreOptions { Precision = precision, FlushToDisk = false });
        for (var i = 0; i < points; i++)
        {
            using var point = TestSets.Random(i);
            store.Append(point, new TrajectoryPointLabel(0, Step: i * 10L, Epoch: i / 2.0, Lambda: i / 4.0, Text: $"p{i}"));
        }

        store.Complete();
    }

    /// <summary>A complete three-point store in the folder "store" of <paramref name="temp"/>; returns its path.</summary>
    public static string NewStore(TempDirectory temp)
    {
        var store = temp.Sub("store");
        WriteStore(store);
        return store;
    }

    public static string Point(string directory, int index) =>
        Path.Combine(directory, string.Create(CultureInfo.InvariantCulture, $"point-{index:D6}.safetensors"));

    public static string Manifest(string directory) => Path.Combine(directory, TrajectoryStore.ManifestFileName);

    /// <summary>
    /// Rewrites the manifest as a forger would: edits its JSON, then (by default) recomputes the architecture fingerprint and
    /// the manifest checksum so that the store is self-consistent and only the library's field checks can refuse it.
    /// <paramref name="text"/> edits the final JSON text (for numbers JSON nodes cannot hold, such as 1e999).
    /// </summary>
    public static void Forge(string directory, Action<JsonObject>? edit = null, Func<string, string>? text = null, bool refingerprint = true, bool sign = true)
    {
        var path = Manifest(directory);
        var root = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        root.Remove("manifestSha256");
        edit?.Invoke(root);
        if (refingerprint && root["architecture"]?["parameters"] is JsonArray parameters)
        {
            root["architecture"]!["fingerprint"] = Fingerprint(parameters);
        }

        var json = root.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true });
        json = text?.Invoke(json) ?? json;
        File.WriteAllBytes(path, sign ? Sign(json) : Encoding.UTF8.GetBytes(json));
    }

    /// <summary>The documented manifest checksum: SHA-256 of every byte before the comma that precedes "manifestSha256", which comes last.</summary>
    public static byte[] Sign(string json)
    {
        var covered = json[..json.LastIndexOf('}')].TrimEnd();
        var sha = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(covered)));
        return Encoding.UTF8.GetBytes($"{covered},\n  \"manifestSha256\": \"{sha}\"\n}}\n");
    }

    /// <summary>The architecture fingerprint as the format documents it: SHA-256 of "name:AxB:DType\n" per parameter.</summary>
    public static string Fingerprint(JsonArray parameters)
    {
        var text = new StringBuilder();
        foreach (var parameter in parameters)
        {
            var shape = parameter!["shape"]!.AsArray().Select(d => d!.ToJsonString());
            text.Append(parameter["name"]!.GetValue<string>()).Append(':').Append(string.Join('x', shape)).Append(':')
                .Append(parameter["dType"]!.GetValue<string>()).Append('\n');
        }

        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    /// <summary>Makes a FIFO with mkfifo(1).</summary>
    public static void MakeFifo(string path)
    {
        using var mkfifo = Process.Start("mkfifo", [path]);
        mkfifo.WaitForExit();
        Assert.Equal(0, mkfifo.ExitCode);
    }

    /// <summary>Runs <paramref name="action"/> on another thread and fails the test if it has not finished within the guard (a hang).</summary>
    public static T WithinHangGuard<T>(Func<T> action, int seconds = 60)
    {
        var task = Task.Run(action);
        Assert.True(task.Wait(TimeSpan.FromSeconds(seconds)), $"The call did not return within {seconds} s: it blocks or spins.");
        return task.Result;
    }

    /// <summary>As <see cref="WithinHangGuard{T}"/> for an action expected to throw <typeparamref name="TException"/> exactly.</summary>
    public static TException ThrowsWithinHangGuard<TException>(Action action, int seconds = 60)
        where TException : Exception
    {
        var task = Task.Run(() => Record.Exception(action));
        Assert.True(task.Wait(TimeSpan.FromSeconds(seconds)), $"The call did not return within {seconds} s: it blocks or spins.");
        var error = task.Result;
        Assert.NotNull(error);
        return Assert.IsType<TException>(error);
    }
}

/// <summary>A theory that runs only on Linux; elsewhere it is reported as skipped.</summary>
public sealed class LinuxTheoryAttribute : TheoryAttribute
{
    /// <summary>Marks the test skipped off Linux.</summary>
    public LinuxTheoryAttribute()
    {
        if (!OperatingSystem.IsLinux())
        {
            Skip = "Linux only.";
        }
    }
}
