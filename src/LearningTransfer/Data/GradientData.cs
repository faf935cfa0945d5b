using TorchSharp;
using static TorchSharp.torch;

namespace TrajectoryTransfer;

/// <summary>
/// Training minibatches and the loss that turns a model and a minibatch into a scalar: the source of every gradient.
/// The enumerable is read cyclically (enumerated again when it ends, so a shuffling DataLoader reshuffles).
/// </summary>
/// <remarks>
/// A drawn batch must outlive the reading of later ones: several minibatches per gradient, and BatchNorm refresh batches,
/// are all read before the source and target gradients use them. Loaders that dispose a batch when they move on (TorchSharp's
/// <c>DataLoader</c> does) are handled by <c>keep</c>, which copies each batch as it is drawn, into the caller's dispose scope.
/// </remarks>
internal sealed class GradientData
{
    private readonly Func<IEnumerator<object>> _open;
    private readonly Func<nn.Module<Tensor, Tensor>, object, Tensor> _loss;
    private readonly Func<object, object> _keep;
    private IEnumerator<object>? _current;

    private GradientData(Func<IEnumerator<object>> open, Func<nn.Module<Tensor, Tensor>, object, Tensor> loss, Func<object, object> keep)
    {
        _open = open;
        _loss = loss;
        _keep = keep;
    }

    public static GradientData Create<TBatch>(IEnumerable<TBatch> batches, Func<nn.Module<Tensor, Tensor>, TBatch, Tensor> loss, Func<TBatch, TBatch>? keep = null)
        where TBatch : notnull =>
        new(
            () => batches.Select(b => (object)b).GetEnumerator(),
            (model, batch) => loss(model, (TBatch)batch),
            keep is null ? b => b : b => keep((TBatch)b));

    /// <summary>Reads the first batch to prove the data is not empty; the batch is kept for the first draw.</summary>
    public void EnsureNotEmpty(string paramName)
    {
        _current = _open();
        if (!_current.MoveNext())
        {
            _current.Dispose();
            _current = null;
            throw new ArgumentException("The training data yielded no batch; gradients need at least one.", paramName);
        }

        _pending = true;
    }

    private bool _pending;

    /// <summary>The first batch (read by <see cref="EnsureNotEmpty"/>), copied as drawn batches are; it stays first in line for <see cref="Draw"/>.</summary>
    public object PeekFirst()
    {
        if (_current is null || !_pending)
        {
            throw new InvalidOperationException("PeekFirst is only valid after EnsureNotEmpty and before the first draw.");
        }

        return _keep(_current.Current);
    }

    /// <summary>The next batch, starting over when the enumerable ends.</summary>
    public object Next()
    {
        if (_current is null)
        {
            _current = _open();
        }
        else if (_pending)
        {
            _pending = false;
            return _current.Current;
        }

        if (_current.MoveNext())
        {
            return _current.Current;
        }

        _current.Dispose();
        _current = _open();
        if (!_current.MoveNext())
        {
            throw new InvalidOperationException("The training data yielded no batch on a later pass.");
        }

        return _current.Current;
    }

    /// <summary>Draws <paramref name="count"/> batches.</summary>
    public object[] Draw(int count)
    {
        var result = new object[count];
        for (var i = 0; i < count; i++)
        {
            result[i] = _keep(Next());
        }

        return result;
    }

    public Tensor Loss(nn.Module<Tensor, Tensor> model, object batch)
    {
        try
        {
            return _loss(model, batch);
        }
        catch (InvalidOperationException e) when (e.Message.Contains("empty handle", StringComparison.Ordinal))
        {
            throw new InvalidOperationException(
                "A training batch was disposed while the transfer still needed it. With more than one minibatch per gradient, or "
                + "with BatchNorm refresh, several batches are read before they are used, and a loader that disposes each batch "
                + "when it moves on (TorchSharp's DataLoader does) invalidates the earlier ones. Pass a copy function to "
                + "WithData(batches, loss, copy), or use the (input, label) or DataLoader overloads of WithData, which copy.",
                e);
        }
    }

    public void Close()
    {
        _current?.Dispose();
        _current = null;
        _pending = false;
    }
}
