namespace TrajectoryTransfer.Permutations.Tests.Native;

public sealed class ElfVersionRequirementsTests
{
    [Fact]
    public void Find_RequirementWithoutWeakFlag_IsRequired()
    {
        var elf = SyntheticElf.Requiring("GLIBCXX_3.4.32", flags: 0);

        Assert.Equal(VersionRequirement.Required, ElfVersionRequirements.Find(elf, "GLIBCXX_3.4.32"));
        Assert.Equal(VersionRequirement.Required, ElfVersionRequirements.Find(elf, "GLIBCXX_3.4.30"));
    }

    [Fact]
    public void Find_RequirementWithWeakFlag_IsWeak()
    {
        var elf = SyntheticElf.Requiring("GLIBCXX_3.4.32", flags: 0x2);

        Assert.Equal(VersionRequirement.Weak, ElfVersionRequirements.Find(elf, "GLIBCXX_3.4.32"));
        Assert.Equal(VersionRequirement.Required, ElfVersionRequirements.Find(elf, "GLIBCXX_3.4.30"));
    }

    [Fact]
    public void Find_VersionNotAskedFor_IsNone()
    {
        var elf = SyntheticElf.Requiring("GLIBCXX_3.4.32", flags: 0);

        Assert.Equal(VersionRequirement.None, ElfVersionRequirements.Find(elf, "GLIBCXX_3.4.33"));
    }

    [Fact]
    public void Find_NotAnElfFile_Throws()
    {
        var bytes = new byte[128];
        "MZ"u8.CopyTo(bytes);

        Assert.Throws<InvalidDataException>(() => ElfVersionRequirements.Find(bytes, "GLIBCXX_3.4.32"));
    }

    [Fact]
    public void Find_TruncatedFile_Throws()
    {
        var elf = SyntheticElf.Requiring("GLIBCXX_3.4.32", flags: 0);

        Assert.Throws<InvalidDataException>(() => ElfVersionRequirements.Find(elf.AsSpan(0, elf.Length - 100), "GLIBCXX_3.4.32"));
    }

    [Fact]
    public void Find_TorchSharpShimThisTestLoaded_IsWeakExactlyWhereTheBuildHadToPatchIt()
    {
        var shim = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", TorchSharpNativeCheck.ShimFileName);
        if (!OperatingSystem.IsLinux())
        {
            Assert.False(File.Exists(shim));
            return; // the shim and its patch exist on Linux only
        }

        var libStdCxx = TorchSharpNativeCheck.LoadedLibStdCxx();
        Assert.NotNull(libStdCxx);
        var hostDefines = TorchSharpNativeCheck.Defines(File.ReadAllBytes(libStdCxx), TorchSharpNativeCheck.RequiredVersion);

        Assert.Equal(
            hostDefines ? VersionRequirement.Required : VersionRequirement.Weak,
            ElfVersionRequirements.Find(File.ReadAllBytes(shim), TorchSharpNativeCheck.RequiredVersion));
    }
}
