namespace TrajectoryTransfer.Trajectories;

/// <summary>A file format for PyTorch state_dict checkpoints.</summary>
public enum PyTorchCheckpointFormat
{
    /// <summary>The zip format of <c>torch.save(model.state_dict(), path)</c> (<c>.pt</c>, <c>.pth</c>); read with <c>torch.load</c>.</summary>
    Pt = 0,

    /// <summary>The safetensors format (<c>.safetensors</c>); read with <c>safetensors.torch.load_file</c>.</summary>
    Safetensors = 1,
}
