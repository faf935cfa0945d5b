using System.Text.Json;
using System.Text.Json.Serialization;

namespace TrajectoryTransfer.Samples.Reporting;

/// <summary>Source-generated JSON metadata for <see cref="Report"/>: camelCase names, indented.</summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(Report))]
public sealed partial class ReportJsonContext : JsonSerializerContext;

/// <summary>Writes and reads report.json.</summary>
public static class ReportJson
{
    /// <summary>The file name in the output folder.</summary>
    public const string FileName = "report.json";

    /// <summary>Writes the report atomically: to a temporary file in the same folder, then renamed over the old one.</summary>
    /// <param name="report">The report.</param>
    /// <param name="directory">The output folder (created if missing).</param>
    /// <returns>The report's path.</returns>
    public static string Write(Report report, string directory)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(directory);
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, FileName);
        var temporary = Path.Combine(directory, $".{FileName}.{Environment.ProcessId}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                JsonSerializer.Serialize(stream, report, ReportJsonContext.Default.Report);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }

        return path;
    }
}
