using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Text;
using TorchSharp;

namespace TrajectoryTransfer.Permutations;

/// <summary>
/// Replaces TorchSharp's bare load error ("doesn't contain a reference to libtorch-cpu-linux-x64") with one that says
/// what to do, when the cause is the one this package's build target fixes: TorchSharp 0.107's native shim requires
/// GLIBCXX_3.4.32 (GCC 13's libstdc++), which Debian 12 and Ubuntu 22.04 lack, and the copy being loaded was not
/// patched, because the application was built or published on a newer distribution or the target was turned off.
/// Any other load failure is left exactly as TorchSharp reports it.
/// </summary>
internal static class TorchSharpNativeCheck
{
    /// <summary>The symbol version that TorchSharp 0.107's shim asks for and older distributions lack.</summary>
    internal const string RequiredVersion = "GLIBCXX_3.4.32";

    /// <summary>The file name of TorchSharp's native shim on Linux.</summary>
    internal const string ShimFileName = "libLibTorchSharp.so";

    /// <summary>Where the README explains the problem and the build target.</summary>
    internal const string HelpUrl = "https://github.com/learningtransfer/learningtransfer#torchsharp-on-debian-12--ubuntu-2204";

    // Runs before any code of this package, which every LearningTransfer package goes through before it touches
    // TorchSharp. TorchSharp loads its natives in the static constructor of `torch`, so running that constructor here
    // changes nothing when the load works, and otherwise fails where the failure can still be explained.
    [ModuleInitializer]
    [SuppressMessage("Usage", "CA2255:The 'ModuleInitializer' attribute should not be used in libraries",
        Justification = "The explanation must be in place before this package's first TorchSharp call, wherever that is.")]
    internal static void LoadTorchSharp()
    {
        if (OperatingSystem.IsLinux())
        {
            Load(static () => RuntimeHelpers.RunClassConstructor(typeof(torch).TypeHandle), ShimCandidates, LoadedLibStdCxx);
        }
    }

    /// <summary>
    /// Runs <paramref name="load"/>. A failure it explains is rethrown as a <see cref="DllNotFoundException"/> holding it;
    /// any other failure is left for TorchSharp to raise, unchanged, at the first real use (a failed static constructor
    /// throws the same exception at every later access).
    /// </summary>
    /// <param name="load">Loads TorchSharp's natives.</param>
    /// <param name="shimCandidates">Where the shim being loaded may be, most likely first.</param>
    /// <param name="libStdCxx">The path of the libstdc++ the process uses, or null if unknown.</param>
    internal static void Load(Action load, Func<IEnumerable<string>> shimCandidates, Func<string?> libStdCxx)
    {
        try
        {
            load();
        }
        catch (TypeInitializationException e)
        {
            if (Explain(e, shimCandidates(), libStdCxx()) is { } explained)
            {
                throw explained;
            }
        }
    }

    /// <summary>
    /// The explained error when the first existing shim of <paramref name="shimCandidates"/> requires (not weakly)
    /// <see cref="RequiredVersion"/> and <paramref name="libStdCxx"/> does not define it; otherwise null.
    /// </summary>
    /// <param name="failure">TorchSharp's error, kept as the inner exception.</param>
    /// <param name="shimCandidates">Where the shim being loaded may be, most likely first.</param>
    /// <param name="libStdCxx">The path of the libstdc++ the process uses, or null if unknown.</param>
    internal static DllNotFoundException? Explain(Exception failure, IEnumerable<string> shimCandidates, string? libStdCxx)
    {
        try
        {
            if (libStdCxx is null || !File.Exists(libStdCxx) || Defines(File.ReadAllBytes(libStdCxx), RequiredVersion))
            {
                return null;
            }

            var shim = shimCandidates.FirstOrDefault(File.Exists);
            if (shim is null || ElfVersionRequirements.Find(File.ReadAllBytes(shim), RequiredVersion) != VersionRequirement.Required)
            {
                return null;
            }

            return new DllNotFoundException(
                $"TorchSharp cannot load its native library on this machine: {shim} requires the symbol version {RequiredVersion} "
                + $"(the C++ runtime of GCC 13 and newer), which this system's libstdc++ ({libStdCxx}) does not define; Debian 12 and "
                + "Ubuntu 22.04 stop at GLIBCXX_3.4.30. This happens when the application was built or published on a newer "
                + "distribution and then run here, or when the LearningTransferPatchTorchSharpNative build target was turned off. "
                + "The only symbol behind that version is never called, so the requirement can safely be marked weak. Either build or "
                + "publish on this distribution (the LearningTransfer packages' build target then marks it weak in your output), or "
                + "publish anywhere with -p:LearningTransferPatchTorchSharpNative=always. See " + HelpUrl + ". TorchSharp's own "
                + "error is the inner exception.",
                failure);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            return null; // nothing certain to add: TorchSharp's error stands as it is
        }
    }

    /// <summary>Whether a shared library's bytes define (name in its string table) the symbol version <paramref name="versionName"/>.</summary>
    /// <param name="library">The library file's bytes.</param>
    /// <param name="versionName">A version name such as <c>GLIBCXX_3.4.32</c>.</param>
    internal static bool Defines(ReadOnlySpan<byte> library, string versionName) =>
        library.IndexOf(Encoding.ASCII.GetBytes(versionName + "\0")) >= 0;

    /// <summary>The libstdc++ mapped into this process (the .NET host loads it first, so the shim binds to this one), or null.</summary>
    internal static string? LoadedLibStdCxx()
    {
        const string maps = "/proc/self/maps";
        if (!File.Exists(maps))
        {
            return null;
        }

        return File.ReadLines(maps)
            .Select(line => line.IndexOf('/', StringComparison.Ordinal) is var at and >= 0 ? line[at..] : null)
            .FirstOrDefault(path => path is not null && Path.GetFileName(path).StartsWith("libstdc++.so", StringComparison.Ordinal));
    }

    /// <summary>
    /// Where TorchSharp looks for its shim: the application's native search folders (from its deps.json), the folder of
    /// TorchSharp.dll, and the <c>cpu</c> folder into which TorchSharp copies natives from the NuGet cache as a last resort.
    /// </summary>
    internal static IEnumerable<string> ShimCandidates()
    {
        var folders = ((AppContext.GetData("NATIVE_DLL_SEARCH_DIRECTORIES") as string) ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .ToList();
        var torchSharp = Path.GetDirectoryName(typeof(torch).Assembly.Location);
        if (!string.IsNullOrEmpty(torchSharp))
        {
            folders.Add(torchSharp);
            folders.Add(Path.Combine(torchSharp, "cpu"));
        }

        return folders.Select(folder => Path.Combine(folder, ShimFileName));
    }
}
