using System.Globalization;

namespace TrajectoryTransfer.Trajectories;

/// <summary>Describes one point of a trajectory: where in training it was taken, or where on an interpolation it lies.</summary>
/// <param name="Index">The point's position in its trajectory.</param>
/// <param name="Step">The number of optimizer steps taken before the point, when known.</param>
/// <param name="Epoch">The number of epochs completed (possibly fractional), when known.</param>
/// <param name="Lambda">For interpolated points, the interpolation weight λ between the surrounding stored points.</param>
/// <param name="Text">A free-form description, such as a file name or <c>"epoch 3"</c>.</param>
public sealed record TrajectoryPointLabel(int Index, long? Step = null, double? Epoch = null, double? Lambda = null, string? Text = null)
{
    /// <summary>Returns a copy with another <see cref="Index"/>.</summary>
    /// <param name="index">The new index.</param>
    public TrajectoryPointLabel WithIndex(int index) => this with { Index = index };

    /// <inheritdoc />
    public override string ToString()
    {
        var parts = new List<string> { $"#{Index}" };
        if (Step is { } step)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"step {step}"));
        }

        if (Epoch is { } epoch)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"epoch {epoch:0.###}"));
        }

        if (Lambda is { } lambda)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"λ {lambda:0.######}"));
        }

        if (!string.IsNullOrEmpty(Text))
        {
            parts.Add(Text);
        }

        return string.Join(", ", parts);
    }
}
