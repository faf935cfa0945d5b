using System.Diagnostics;
using TrajectoryTransfer.Trajectories.Tests.TestSupport;

namespace TrajectoryTransfer.Trajectories.Tests.Hostile.Support;

/// <summary>
/// This assembly run as a program (<c>dotnet exec LearningTransfer.Trajectory.Tests.dll MODE …</c>): a second writer in
/// another process for the lock tests, or a writer that stops at a chosen stage of an append so that the parent can kill
/// it there with SIGKILL. Without arguments it does nothing (the test runner never calls it).
/// </summary>
public static class ChildWriter
{
    /// <summary>How long a child waits at most before giving up on its own (so none outlives a broken test run).</summary>
    public static readonly TimeSpan MaxLifetime = TimeSpan.FromSeconds(120);

    /// <summary>Entry point.</summary>
    /// <returns>0 on a normal end, 2 for bad arguments, 3 when the parent never killed it.</returns>
    public static int Main(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        switch (args)
        {
            case ["hold-writer", var directory, var ready]:
                {
                    // Holds the writer lock until stdin closes (the parent's Dispose) or it is killed.
                    using var store = TrajectoryStore.OpenForAppend(directory, flushToDisk: false);
                    File.WriteAllText(ready, Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
                    var reading = Task.Run(() => Console.In.ReadToEnd());
                    return reading.Wait(MaxLifetime) ? 0 : 3;
                }

            case ["append-and-stop", var directory, var stage, var ready]:
                {
                    var store = TrajectoryStore.OpenForAppend(directory, flushToDisk: false);
                    store.FaultInjection = reached =>
                    {
                        if (reached == stage)
                        {
                            File.WriteAllText(ready, reached);
                            Thread.Sleep(MaxLifetime);
                            Environment.Exit(3);
                        }
                    };
                    using var point = TestSets.Random(100);
                    store.Append(point, new TrajectoryPointLabel(0, Step: 100));
                    File.WriteAllText(ready, "appended");
                    Thread.Sleep(MaxLifetime);
                    return 3;
                }

            case []:
                return 0;
            default:
                Console.Error.WriteLine($"Unknown arguments: {string.Join(' ', args)}");
                return 2;
        }
    }

    /// <summary>Starts this assembly as a child with <paramref name="args"/>; stdin stays open until the handle is disposed.</summary>
    public static ChildProcess Start(params string[] args)
    {
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardInput = true,
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(typeof(ChildWriter).Assembly.Location);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["OMP_NUM_THREADS"] = "1";
        return new ChildProcess(Process.Start(start) ?? throw new InvalidOperationException("The child process did not start."));
    }

    private static string DotnetHost()
    {
        var fromSdk = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(fromSdk) && File.Exists(fromSdk))
        {
            return fromSdk;
        }

        var current = Environment.ProcessPath;
        return current is not null && Path.GetFileNameWithoutExtension(current) == "dotnet" ? current : "dotnet";
    }
}

/// <summary>A running child; disposing it closes its stdin and kills it if it still runs, so no test leaves one behind.</summary>
public sealed class ChildProcess(Process process) : IDisposable
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(90);
    private readonly Task<string> _stderr = process.StandardError.ReadToEndAsync();
    private readonly Task<string> _stdout = process.StandardOutput.ReadToEndAsync();

    /// <summary>Waits until the child has written <paramref name="marker"/>; fails the test if it exits first or takes too long.</summary>
    public string WaitFor(string marker)
    {
        var deadline = Stopwatch.StartNew();
        while (!File.Exists(marker) || new FileInfo(marker).Length == 0)
        {
            if (process.HasExited)
            {
                Assert.Fail($"The child exited with {process.ExitCode} before writing '{marker}': {_stderr.Result}{_stdout.Result}");
            }

            if (deadline.Elapsed > ReadyTimeout)
            {
                Assert.Fail($"The child did not write '{marker}' within {ReadyTimeout.TotalSeconds} s.");
            }

            Thread.Sleep(20);
        }

        return File.ReadAllText(marker);
    }

    /// <summary>Kills the child with SIGKILL (no cleanup of any kind runs in it) and waits for it to be gone.</summary>
    public void KillHard()
    {
        process.Kill(entireProcessTree: false);
        process.WaitForExit();
    }

    /// <summary>Lets the child end normally (closes its stdin) and returns its exit code.</summary>
    public int Finish()
    {
        process.StandardInput.Close();
        if (!process.WaitForExit(ReadyTimeout))
        {
            KillHard();
            Assert.Fail("The child did not end after its stdin closed.");
        }

        return process.ExitCode;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: false);
            process.WaitForExit();
        }

        process.Dispose();
    }
}
