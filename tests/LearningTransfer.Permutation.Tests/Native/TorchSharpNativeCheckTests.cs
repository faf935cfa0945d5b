using System.Text;

namespace TrajectoryTransfer.Permutations.Tests.Native;

public sealed class TorchSharpNativeCheckTests : IDisposable
{
    private readonly string _folder = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "lt-native-" + Guid.NewGuid().ToString("N"))).FullName;

    [Fact]
    public void Explain_UnpatchedShimOnOlderLibStdCxx_SaysWhatToDo()
    {
        var shim = Write("libLibTorchSharp.so", SyntheticElf.Requiring("GLIBCXX_3.4.32", flags: 0));
        var libStdCxx = Write("libstdc++.so.6.0.30", LibStdCxxDefining("GLIBCXX_3.4.29", "GLIBCXX_3.4.30"));
        var failure = TorchSharpFailure();

        var explained = TorchSharpNativeCheck.Explain(failure, [shim], libStdCxx);

        Assert.NotNull(explained);
        Assert.Same(failure, explained.InnerException);
        Assert.Contains("GLIBCXX_3.4.32", explained.Message, StringComparison.Ordinal);
        Assert.Contains(shim, explained.Message, StringComparison.Ordinal);
        Assert.Contains(libStdCxx, explained.Message, StringComparison.Ordinal);
        Assert.Contains("Debian 12", explained.Message, StringComparison.Ordinal);
        Assert.Contains("build or publish on this distribution", explained.Message, StringComparison.Ordinal);
        Assert.Contains("-p:LearningTransferPatchTorchSharpNative=always", explained.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Explain_LibStdCxxDefinesTheVersion_LeavesTheErrorAlone()
    {
        var shim = Write("libLibTorchSharp.so", SyntheticElf.Requiring("GLIBCXX_3.4.32", flags: 0));
        var libStdCxx = Write("libstdc++.so.6.0.33", LibStdCxxDefining("GLIBCXX_3.4.30", "GLIBCXX_3.4.32", "GLIBCXX_3.4.33"));

        Assert.Null(TorchSharpNativeCheck.Explain(TorchSharpFailure(), [shim], libStdCxx));
    }

    [Fact]
    public void Explain_ShimAlreadyMarkedWeak_LeavesTheErrorAlone()
    {
        var shim = Write("libLibTorchSharp.so", SyntheticElf.Requiring("GLIBCXX_3.4.32", flags: 0x2));
        var libStdCxx = Write("libstdc++.so.6.0.30", LibStdCxxDefining("GLIBCXX_3.4.30"));

        Assert.Null(TorchSharpNativeCheck.Explain(TorchSharpFailure(), [shim], libStdCxx));
    }

    [Fact]
    public void Explain_SeveralCandidates_ReadsTheFirstThatExists()
    {
        var missing = Path.Combine(_folder, "runtimes", TorchSharpNativeCheck.ShimFileName);
        var weak = Write("weak.so", SyntheticElf.Requiring("GLIBCXX_3.4.32", flags: 0x2));
        var unpatched = Write("unpatched.so", SyntheticElf.Requiring("GLIBCXX_3.4.32", flags: 0));
        var libStdCxx = Write("libstdc++.so.6.0.30", LibStdCxxDefining("GLIBCXX_3.4.30"));

        Assert.Contains(unpatched, TorchSharpNativeCheck.Explain(TorchSharpFailure(), [missing, unpatched, weak], libStdCxx)!.Message, StringComparison.Ordinal);
        Assert.Null(TorchSharpNativeCheck.Explain(TorchSharpFailure(), [missing, weak, unpatched], libStdCxx));
    }

    [Fact]
    public void Explain_NothingToReadOrUnreadable_LeavesTheErrorAlone()
    {
        var shim = Write("libLibTorchSharp.so", SyntheticElf.Requiring("GLIBCXX_3.4.32", flags: 0));
        var notElf = Write("broken.so", Encoding.ASCII.GetBytes("not an ELF file, but long enough to be read as one: ................................"));
        var libStdCxx = Write("libstdc++.so.6.0.30", LibStdCxxDefining("GLIBCXX_3.4.30"));

        Assert.Null(TorchSharpNativeCheck.Explain(TorchSharpFailure(), [shim], libStdCxx: null));
        Assert.Null(TorchSharpNativeCheck.Explain(TorchSharpFailure(), [shim], Path.Combine(_folder, "no-libstdc++.so.6")));
        Assert.Null(TorchSharpNativeCheck.Explain(TorchSharpFailure(), [Path.Combine(_folder, "none.so")], libStdCxx));
        Assert.Null(TorchSharpNativeCheck.Explain(TorchSharpFailure(), [notElf], libStdCxx));
    }

    [Fact]
    public void Load_FailureItExplains_ThrowsDllNotFoundHoldingTorchSharpsError()
    {
        var shim = Write("libLibTorchSharp.so", SyntheticElf.Requiring("GLIBCXX_3.4.32", flags: 0));
        var libStdCxx = Write("libstdc++.so.6.0.30", LibStdCxxDefining("GLIBCXX_3.4.30"));
        var failure = TorchSharpFailure();

        var thrown = Assert.Throws<DllNotFoundException>(() => TorchSharpNativeCheck.Load(() => throw failure, () => [shim], () => libStdCxx));

        Assert.Same(failure, thrown.InnerException);
    }

    [Fact]
    public void Load_FailureItCannotExplain_LeavesItForTorchSharpToRaise()
    {
        var libStdCxx = Write("libstdc++.so.6.0.33", LibStdCxxDefining("GLIBCXX_3.4.32"));
        var shim = Write("libLibTorchSharp.so", SyntheticElf.Requiring("GLIBCXX_3.4.32", flags: 0));
        var attempts = 0;

        TorchSharpNativeCheck.Load(() => { attempts++; throw TorchSharpFailure(); }, () => [shim], () => libStdCxx);

        Assert.Equal(1, attempts);
    }

    [Fact]
    public void Load_Success_ReadsNoFiles()
    {
        var loaded = false;

        TorchSharpNativeCheck.Load(() => loaded = true, () => throw new InvalidOperationException("looked for the shim"), () => throw new InvalidOperationException("looked for libstdc++"));

        Assert.True(loaded);
    }

    [Fact]
    public void LoadedLibStdCxx_InThisProcess_IsTheLibraryTheHostMapped()
    {
        var path = TorchSharpNativeCheck.LoadedLibStdCxx();

        if (!OperatingSystem.IsLinux())
        {
            Assert.Null(path);
            return;
        }

        Assert.NotNull(path);
        Assert.True(File.Exists(path), path);
        Assert.StartsWith("libstdc++.so", Path.GetFileName(path), StringComparison.Ordinal);
        Assert.True(TorchSharpNativeCheck.Defines(File.ReadAllBytes(path), "GLIBCXX_3.4"), path);
    }

    [Fact]
    public void ShimCandidates_InThisProcess_IncludeTheShimTorchSharpLoaded()
    {
        var shim = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", TorchSharpNativeCheck.ShimFileName);
        if (!File.Exists(shim))
        {
            Assert.False(OperatingSystem.IsLinux(), $"No {shim} on Linux.");
            return; // another OS's shim has another name
        }

        Assert.Contains(TorchSharpNativeCheck.ShimCandidates(), c => Path.GetFullPath(c) == shim);
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static TypeInitializationException TorchSharpFailure() =>
        new("TorchSharp.torch", new NotSupportedException("This application or script uses TorchSharp but doesn't contain a reference to libtorch-cpu-linux-x64, Version=2.10.0.0."));

    private static byte[] LibStdCxxDefining(params string[] versions) =>
        Encoding.ASCII.GetBytes("\u007fELF padding\0" + string.Join("", versions.Select(v => v + "\0")) + "GLIBCXX_DEBUG_MESSAGE_LENGTH\0");

    private string Write(string name, byte[] bytes)
    {
        var path = Path.Combine(_folder, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }
}
