using System.Globalization;
using TorchSharp;
using TrajectoryTransfer.Permutations;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Trajectories;

/// <summary>
/// Records a trajectory from your own TorchSharp training loop: attach it to the module, call
/// <see cref="OnOptimizerStep"/> after each <c>optimizer.step()</c> and <see cref="OnEpochEnd"/> after each epoch (or
/// <see cref="Snapshot"/> whenever you like), and it copies the parameters (and buffers) at the moments the options choose
/// into an <see cref="InMemoryTrajectory"/> or a <see cref="TrajectoryStore"/>.
/// </summary>
/// <remarks>
/// <para>
/// A snapshot is a copy (<c>state_dict()</c> entries are live tensors) made on the module's device under no_grad; the
/// module is never changed. With a store, the copy is handed to a background thread that converts and writes it, so the
/// training loop waits only for the copy, unless <see cref="TrajectoryRecorderOptions.MaxPendingWrites"/> snapshots are
/// already waiting. A failed background write is thrown (wrapped in <see cref="TrajectoryException"/>) by the next call.
/// </para>
/// <para>
/// Use the recorder from the training thread only. <see cref="Dispose"/> (or <see cref="Flush"/>) waits for pending writes;
/// completing the store (<see cref="TrajectoryStore.Complete"/>) stays the caller's decision.
/// </para>
/// </remarks>
public sealed class TrajectoryRecorder : IDisposable
{
    private readonly nn.Module _module;
    private readonly TrajectoryRecorderOptions _options;
    private readonly InMemoryTrajectory? _memory;
    private readonly TrajectoryStore? _store;
    private readonly object _gate = new();
    private readonly Queue<(ParameterSet Point, TrajectoryPointLabel Label)> _pending = new();
    private readonly Thread? _writer;
    private int _writing;
    private bool _closing;
    private Exception? _failure;
    private int _epochs;
    private bool _disposed;

    /// <summary>Attaches a recorder that keeps its snapshots in memory.</summary>
    /// <param name="module">The module being trained; not changed.</param>
    /// <param name="target">Receives the snapshots; its layout must be the module's.</param>
    /// <param name="options">When and how to snapshot; <see langword="null"/> uses <see cref="TrajectoryRecorderOptions.Default"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="module"/> or <paramref name="target"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    /// <exception cref="TrajectoryArchitectureMismatchException">The module's layout differs from the target's.</exception>
    public TrajectoryRecorder(nn.Module module, InMemoryTrajectory target, TrajectoryRecorderOptions? options = null)
        : this(module, options, target.Layout)
    {
        _memory = target;
        TakeInitialSnapshot();
    }

    /// <summary>Attaches a recorder that writes its snapshots to a store (in the background).</summary>
    /// <param name="module">The module being trained; not changed.</param>
    /// <param name="target">A store open for appending (see <see cref="TrajectoryStore.Create"/>); its layout must be the module's.</param>
    /// <param name="options">When and how to snapshot; <see langword="null"/> uses <see cref="TrajectoryRecorderOptions.Default"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="module"/> or <paramref name="target"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    /// <exception cref="InvalidOperationException">The store is not open for appending.</exception>
    /// <exception cref="TrajectoryArchitectureMismatchException">The module's layout differs from the store's.</exception>
    public TrajectoryRecorder(nn.Module module, TrajectoryStore target, TrajectoryRecorderOptions? options = null)
        : this(module, options, target.Layout)
    {
        if (!target.IsWritable)
        {
            throw new InvalidOperationException($"The trajectory store '{target.Directory}' is not open for appending.");
        }

        _store = target;
        _writer = new Thread(WriteLoop) { IsBackground = true, Name = "TrajectoryRecorder writer" };
        _writer.Start();
        TakeInitialSnapshot();
    }

    private TrajectoryRecorder(nn.Module module, TrajectoryRecorderOptions? options, ParameterLayout targetLayout)
    {
        ArgumentNullException.ThrowIfNull(module);
        _options = options ?? TrajectoryRecorderOptions.Default;
        _options.Validate();
        _module = module;
        TensorOps.EnsureSameLayout(targetLayout, ParameterLayout.Of(module, _options.IncludeBuffers), null, "Attaching a trajectory recorder");
    }

    /// <summary>The number of optimizer steps seen (calls to <see cref="OnOptimizerStep"/>).</summary>
    public long StepCount { get; private set; }

    /// <summary>The number of snapshots taken (written or waiting to be written).</summary>
    public int SnapshotCount { get; private set; }

    /// <summary>The trajectory the snapshots go to.</summary>
    public ITrajectory Target => (ITrajectory?)_memory ?? _store!;

    /// <summary>Takes a snapshot now.</summary>
    /// <param name="text">A description for the label; <see langword="null"/> gives "step N".</param>
    /// <param name="epoch">The epoch (possibly fractional) for the label, if known.</param>
    /// <exception cref="ObjectDisposedException">The recorder was disposed.</exception>
    /// <exception cref="TrajectoryException">A background write failed.</exception>
    public void Snapshot(string? text = null, double? epoch = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Record(new TrajectoryPointLabel(0, StepCount, epoch, Text: text ?? string.Create(CultureInfo.InvariantCulture, $"step {StepCount}")));
    }

    /// <summary>Call after each optimizer step; snapshots every <see cref="TrajectoryRecorderOptions.EveryNSteps"/> steps.</summary>
    /// <returns>Whether a snapshot was taken.</returns>
    /// <exception cref="ObjectDisposedException">The recorder was disposed.</exception>
    /// <exception cref="TrajectoryException">A background write failed.</exception>
    public bool OnOptimizerStep()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        StepCount++;
        if (_options.EveryNSteps == 0 || StepCount % _options.EveryNSteps != 0)
        {
            return false;
        }

        Record(new TrajectoryPointLabel(0, StepCount, Text: string.Create(CultureInfo.InvariantCulture, $"step {StepCount}")));
        return true;
    }

    /// <summary>Call after each epoch; snapshots every <see cref="TrajectoryRecorderOptions.EveryNEpochs"/> epochs.</summary>
    /// <param name="epoch">The number of epochs completed, for the label.</param>
    /// <returns>Whether a snapshot was taken.</returns>
    /// <exception cref="ObjectDisposedException">The recorder was disposed.</exception>
    /// <exception cref="TrajectoryException">A background write failed.</exception>
    public bool OnEpochEnd(double epoch)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _epochs++;
        if (_options.EveryNEpochs == 0 || _epochs % _options.EveryNEpochs != 0)
        {
            return false;
        }

        Record(new TrajectoryPointLabel(0, StepCount, epoch, Text: string.Create(CultureInfo.InvariantCulture, $"epoch {epoch}")));
        return true;
    }

    /// <summary>Waits until every snapshot taken so far is in the target.</summary>
    /// <exception cref="TrajectoryException">A background write failed.</exception>
    public void Flush()
    {
        lock (_gate)
        {
            while (_pending.Count + _writing > 0 && _failure is null)
            {
                Monitor.Wait(_gate);
            }

            ThrowIfFailed();
        }
    }

    /// <summary>
    /// Waits for pending writes and stops the background writer; neither the module nor the target is disposed. It does not
    /// throw: call <see cref="Flush"/> first to learn whether every write succeeded.
    /// </summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (_writer is null)
        {
            return;
        }

        lock (_gate)
        {
            _closing = true;
            Monitor.PulseAll(_gate);
        }

        _writer.Join();
        lock (_gate)
        {
            while (_pending.TryDequeue(out var left))
            {
                left.Point.Dispose();
            }
        }
    }

    private void TakeInitialSnapshot()
    {
        if (_options.SnapshotOnAttach)
        {
            Record(new TrajectoryPointLabel(0, 0, 0, Text: "initial"));
        }
    }

    private void Record(TrajectoryPointLabel label)
    {
        lock (_gate)
        {
            ThrowIfFailed();
        }

        var snapshot = Copy();
        SnapshotCount++;
        if (_memory is not null)
        {
            _memory.AppendOwned(snapshot, label);
            return;
        }

        lock (_gate)
        {
            while (_pending.Count + _writing >= _options.MaxPendingWrites && _failure is null)
            {
                Monitor.Wait(_gate);
            }

            if (_failure is not null)
            {
                snapshot.Dispose();
                ThrowIfFailed();
            }

            _pending.Enqueue((snapshot, label));
            Monitor.PulseAll(_gate);
        }
    }

    private ParameterSet Copy()
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var device = _memory is not null ? _options.Device : null;
        var entries = new List<KeyValuePair<string, Tensor>>();
        var source = _options.IncludeBuffers
            ? _module.state_dict().Select(kv => (kv.Key, kv.Value))
            : _module.named_parameters().Select(p => (p.name, (Tensor)p.parameter));
        foreach (var (name, tensor) in source)
        {
            // state_dict() entries are live views of the module's tensors: copy them.
            var copy = device is null || TensorOps.SameDevice(tensor.device, device) ? tensor.detach().clone() : tensor.detach().to(device, copy: true);
            entries.Add(new(name, copy));
        }

        return new ParameterSet(entries).DetachFromDisposeScope();
    }

    private void WriteLoop()
    {
        while (true)
        {
            (ParameterSet Point, TrajectoryPointLabel Label) item;
            lock (_gate)
            {
                while (_pending.Count == 0 && !_closing)
                {
                    Monitor.Wait(_gate);
                }

                if (_pending.Count == 0 || _failure is not null)
                {
                    return;
                }

                item = _pending.Dequeue();
                _writing = 1;
            }

            try
            {
                _store!.Append(item.Point, item.Label);
            }
            catch (Exception e)
            {
                lock (_gate)
                {
                    _failure = e;
                }
            }
            finally
            {
                item.Point.Dispose();
                lock (_gate)
                {
                    _writing = 0;
                    Monitor.PulseAll(_gate);
                }
            }
        }
    }

    private void ThrowIfFailed()
    {
        if (_failure is not null)
        {
            throw new TrajectoryException($"Writing a snapshot to the trajectory store failed: {_failure.Message}", _failure);
        }
    }
}
