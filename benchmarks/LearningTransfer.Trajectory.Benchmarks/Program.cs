using BenchmarkDotNet.Running;

namespace TrajectoryTransfer.Trajectories.Benchmarks;

/// <summary>Runs the trajectory benchmarks: <c>dotnet run -c Release -- --filter '*'</c>.</summary>
public static class Program
{
    /// <summary>Entry point; arguments go to BenchmarkDotNet's switcher.</summary>
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
