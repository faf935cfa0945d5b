namespace TrajectoryTransfer.Samples;

/// <summary>The executable's entry point.</summary>
public static class Program
{
    /// <summary>Runs the sample; see <c>--help</c>.</summary>
    /// <param name="args">The command-line arguments.</param>
    public static int Main(string[] args) => App.Run(args);
}
