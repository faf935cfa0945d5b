using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Permutations;

/// <summary>The shape and element type of one named tensor of a network.</summary>
/// <param name="Name">The <c>state_dict()</c> name, such as <c>"fc1.weight"</c>.</param>
/// <param name="Shape">The tensor's shape.</param>
/// <param name="DType">The tensor's element type.</param>
public sealed record ParameterInfo(string Name, IReadOnlyList<long> Shape, ScalarType DType)
{
    /// <summary>The number of elements.</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);

    /// <inheritdoc />
    public override string ToString() => $"{Name} {ParameterLayout.FormatShape(Shape)} {DType}";
}

/// <summary>
/// The architecture of a network as seen by LearningTransfer: ordered names, shapes and element types of its tensors.
/// Two networks can exchange trajectories and permutations only when their layouts are equal.
/// </summary>
public sealed class ParameterLayout : IEquatable<ParameterLayout>
{
    private readonly ParameterInfo[] _entries;
    private readonly Dictionary<string, ParameterInfo> _byName;

    /// <summary>Creates a layout from its entries, in order.</summary>
    /// <param name="entries">The entries.</param>
    /// <exception cref="ArgumentNullException"><paramref name="entries"/> is null.</exception>
    /// <exception cref="ArgumentException">A name appears twice.</exception>
    public ParameterLayout(IEnumerable<ParameterInfo> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        _entries = entries.ToArray();
        _byName = new Dictionary<string, ParameterInfo>(StringComparer.Ordinal);
        foreach (var entry in _entries)
        {
            if (!_byName.TryAdd(entry.Name, entry))
            {
                throw new ArgumentException($"The parameter name '{entry.Name}' appears twice.", nameof(entries));
            }
        }
    }

    /// <summary>The entries, in order.</summary>
    public IReadOnlyList<ParameterInfo> Entries => _entries;

    /// <summary>The names, in order.</summary>
    public IEnumerable<string> Names => _entries.Select(e => e.Name);

    /// <summary>Total element count.</summary>
    public long ElementCount => _entries.Sum(e => e.ElementCount);

    /// <summary>Looks up an entry by name.</summary>
    /// <param name="name">The name.</param>
    /// <param name="info">The entry, if found.</param>
    public bool TryGet(string name, out ParameterInfo info) => _byName.TryGetValue(name, out info!);

    /// <summary>The layout of a set of named tensors.</summary>
    /// <param name="tensors">Named tensors.</param>
    /// <exception cref="ArgumentNullException"><paramref name="tensors"/> is null.</exception>
    public static ParameterLayout Of(IEnumerable<KeyValuePair<string, Tensor>> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        return new ParameterLayout(tensors.Select(kv => new ParameterInfo(kv.Key, kv.Value.shape.ToArray(), kv.Value.dtype)));
    }

    /// <summary>The layout of a module's state (parameters and buffers, or parameters only).</summary>
    /// <param name="module">The module.</param>
    /// <param name="includeBuffers">Whether buffers count; the default is <see langword="true"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="module"/> is null.</exception>
    public static ParameterLayout Of(nn.Module module, bool includeBuffers = true)
    {
        ArgumentNullException.ThrowIfNull(module);
        return includeBuffers
            ? Of(module.state_dict())
            : new ParameterLayout(module.named_parameters().Select(p => new ParameterInfo(p.name, p.parameter.shape.ToArray(), p.parameter.dtype)));
    }

    /// <summary>A stable SHA-256 fingerprint of names, shapes and element types, for manifests and caches.</summary>
    public string Fingerprint()
    {
        var text = new StringBuilder();
        foreach (var e in _entries)
        {
            text.Append(e.Name).Append(':').Append(string.Join('x', e.Shape.Select(s => s.ToString(CultureInfo.InvariantCulture))))
                .Append(':').Append(e.DType.ToString()).Append('\n');
        }

        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    /// <summary>
    /// Describes the first difference to <paramref name="other"/> (a missing or extra name, a shape or a type),
    /// or returns <see langword="null"/> when the layouts are equal. With <paramref name="ignoreDType"/> element types are not compared.
    /// </summary>
    /// <param name="other">The layout to compare with.</param>
    /// <param name="ignoreDType">Whether element types may differ.</param>
    /// <exception cref="ArgumentNullException"><paramref name="other"/> is null.</exception>
    public string? FirstDifference(ParameterLayout other, bool ignoreDType = false) => FirstDifference(other, "this layout", "the other", ignoreDType);

    /// <summary>
    /// Describes the first difference to <paramref name="other"/>, naming both sides (for example "the source trajectory"
    /// and "the new model"): a tensor only one side has, a shape or an element type. Returns <see langword="null"/> when the
    /// layouts are equal (order aside).
    /// </summary>
    /// <param name="other">The layout to compare with.</param>
    /// <param name="thisSide">What this layout belongs to, as the message should name it.</param>
    /// <param name="otherSide">What <paramref name="other"/> belongs to.</param>
    /// <param name="ignoreDType">Whether element types may differ.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public string? FirstDifference(ParameterLayout other, string thisSide, string otherSide, bool ignoreDType = false)
    {
        ArgumentNullException.ThrowIfNull(other);
        ArgumentNullException.ThrowIfNull(thisSide);
        ArgumentNullException.ThrowIfNull(otherSide);
        foreach (var e in _entries)
        {
            if (!other._byName.TryGetValue(e.Name, out var o))
            {
                return $"'{e.Name}' {FormatShape(e.Shape)} is in {thisSide} but not in {otherSide}";
            }

            if (!e.Shape.SequenceEqual(o.Shape))
            {
                return $"'{e.Name}' has shape {FormatShape(e.Shape)} in {thisSide} and {FormatShape(o.Shape)} in {otherSide}";
            }

            if (!ignoreDType && e.DType != o.DType)
            {
                return $"'{e.Name}' has element type {e.DType} in {thisSide} and {o.DType} in {otherSide}";
            }
        }

        foreach (var o in other._entries)
        {
            if (!_byName.ContainsKey(o.Name))
            {
                return $"'{o.Name}' {FormatShape(o.Shape)} is in {otherSide} but not in {thisSide}";
            }
        }

        return null;
    }

    /// <inheritdoc />
    public bool Equals(ParameterLayout? other) => other is not null && _entries.Length == other._entries.Length
        && _entries.Zip(other._entries).All(p => p.First.Name == p.Second.Name && p.First.DType == p.Second.DType && p.First.Shape.SequenceEqual(p.Second.Shape));

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as ParameterLayout);

    /// <inheritdoc />
    public override int GetHashCode() => Fingerprint().GetHashCode(StringComparison.Ordinal);

    /// <summary>Formats a shape as <c>[784, 4096]</c>.</summary>
    /// <param name="shape">The shape.</param>
    public static string FormatShape(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";
}
