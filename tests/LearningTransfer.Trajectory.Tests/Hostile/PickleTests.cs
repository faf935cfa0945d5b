using TrajectoryTransfer.Trajectories.Tests.Hostile.Support;
using TrajectoryTransfer.Trajectories.Tests.TestSupport;

namespace TrajectoryTransfer.Trajectories.Tests.Hostile;

/// <summary>
/// Malicious and malformed pickles inside a well-formed torch.save archive: nothing is executed (a command that would
/// leave a file leaves none), nothing is allocated from a forged length, and each gives the corruption exception naming
/// the file and what was refused.
/// </summary>
public sealed class PickleTests
{
    private static readonly byte[] Proto2 = [0x80, 2];

    public static TheoryData<string> Cases => new()
    {
        "os.system via GLOBAL and REDUCE",
        "builtins.eval via STACK_GLOBAL",
        "subprocess via a tensor's requires_grad hook",
        "NEWOBJ of an arbitrary class",
        "INST opcode",
        "OBJ opcode",
        "BUILD on a global (setstate)",
        "EXT1 extension registry",
        "text PERSID",
        "protocol 6",
        "unknown opcode",
        "BINUNICODE length of 4 GiB",
        "BINUNICODE8 length of 2^63",
        "LONG4 length beyond the pickle",
        "BINBYTES8 length beyond the pickle",
        "memo recall never stored",
        "no STOP",
        "stack underflow",
        "persistent id not a storage",
        "quantized storage type",
        "rebuild_parameter of a string",
        "root is a list",
        "dict without tensors",
        "GLOBAL line without end",
        "invalid UTF-8 string",
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Load_MaliciousOrMalformedPickle_RefusedWithoutRunningAnything(string name)
    {
        using var temp = new TempDirectory();
        var marker = temp.Sub("pwned");
        var path = temp.Sub("evil.pt");
        File.WriteAllBytes(path, CraftedCheckpoints.Archive(Pickle(name, marker), new Dictionary<string, byte[]> { ["0"] = CraftedCheckpoints.Floats(1, 2) }));

        var error = HostileFiles.ThrowsWithinHangGuard<TrajectoryStoreCorruptedException>(() => PyTorchCheckpoints.Load(path));

        Assert.Equal(path, error.FilePath);
        Assert.False(File.Exists(marker), "The pickle ran a command.");
    }

    [Fact]
    public void Load_OsSystemPickle_MessageNamesTheRefusedCall()
    {
        using var temp = new TempDirectory();
        var path = temp.Sub("evil.pt");
        File.WriteAllBytes(path, CraftedCheckpoints.Archive(Pickle("os.system via GLOBAL and REDUCE", temp.Sub("pwned")), new Dictionary<string, byte[]>()));

        var error = Assert.Throws<TrajectoryStoreCorruptedException>(() => PyTorchCheckpoints.Load(path));

        Assert.Contains("os.system", error.Message, StringComparison.Ordinal);
        Assert.Contains("not run", error.Message, StringComparison.Ordinal);
    }

    private static byte[] Pickle(string name, string marker)
    {
        var command = $"touch {marker}";
        var p = new PickleBuilder().Op(Proto2);
        return name switch
        {
            "os.system via GLOBAL and REDUCE" => p.Global("os", "system").Str(command).Op(0x85).Op('R').Op('.').ToArray(),
            "builtins.eval via STACK_GLOBAL" => p.Str("builtins").Str("eval").Op(0x93).Str($"__import__('os').system('{command}')").Op(0x85).Op('R').Op('.').ToArray(),
            "subprocess via a tensor's requires_grad hook" => p.Op('}').Str("w").Global("torch._utils", "_rebuild_tensor_v2").Op('(')
                .Op('(').Str("storage").Global("torch", "FloatStorage").Str("0").Str("cpu").Int(2).Op('t').Op('Q')
                .Int(0).Tuple(2).Tuple(1).Op(0x89).Global("subprocess", "call").Op('(').Str("touch").Str(marker).Op('l').Op(0x85).Op('R').Op('t').Op('R').Op('s').Op('.').ToArray(),
            "NEWOBJ of an arbitrary class" => p.Global("os", "_wrap_close").Op(')').Op(0x81).Op('.').ToArray(),
            "INST opcode" => p.Op('(').Str(command).Op('i').Op("os\nsystem\n"u8.ToArray()).Op('.').ToArray(),
            "OBJ opcode" => p.Op('(').Global("os", "system").Str(command).Op('o').Op('.').ToArray(),
            "BUILD on a global (setstate)" => p.Global("os", "environ").Op('}').Op('b').Op('.').ToArray(),
            "EXT1 extension registry" => p.Op(0x82, 1).Op('.').ToArray(),
            "text PERSID" => p.Op('P').Op("0\n"u8.ToArray()).Op('.').ToArray(),
            "protocol 6" => new PickleBuilder().Op(0x80, 6).Op('N').Op('.').ToArray(),
            "unknown opcode" => p.Op(0xF0).Op('.').ToArray(),
            "BINUNICODE length of 4 GiB" => p.Op((byte)'X', 0xFF, 0xFF, 0xFF, 0xFF).Op('.').ToArray(),
            "BINUNICODE8 length of 2^63" => p.Op(0x8d, 0, 0, 0, 0, 0, 0, 0, 0x80).Op('.').ToArray(),
            "LONG4 length beyond the pickle" => p.Op(0x8b, 0xFF, 0xFF, 0xFF, 0x7F).Op('.').ToArray(),
            "BINBYTES8 length beyond the pickle" => p.Op(0x8e, 0, 0, 0, 0, 1, 0, 0, 0).Op('.').ToArray(),
            "memo recall never stored" => p.Op((byte)'h', 7).Op('.').ToArray(),
            "no STOP" => p.Op('}').ToArray(),
            "stack underflow" => p.Op('s').Op('.').ToArray(),
            "persistent id not a storage" => p.Op('(').Str("module").Global("os", "system").Str("0").Str("cpu").Int(2).Op('t').Op('Q').Op('.').ToArray(),
            "quantized storage type" => p.Op('}').Str("w").Global("torch._utils", "_rebuild_tensor_v2").Op('(')
                .Op('(').Str("storage").Global("torch", "QInt8Storage").Str("0").Str("cpu").Int(8).Op('t').Op('Q')
                .Int(0).Tuple(8).Tuple(1).Op(0x89).Op('N').Op('t').Op('R').Op('s').Op('.').ToArray(),
            "rebuild_parameter of a string" => p.Global("torch._utils", "_rebuild_parameter").Str("x").Op(0x89).Op('N').Op(0x87).Op('R').Op('.').ToArray(),
            "root is a list" => p.Op(']').Op('.').ToArray(),
            "dict without tensors" => p.Op('}').Str("a").Int(1).Op('s').Op('.').ToArray(),
            "GLOBAL line without end" => p.Op('c').Op(System.Text.Encoding.ASCII.GetBytes(new string('x', 5000))).ToArray(),
            "invalid UTF-8 string" => p.Op((byte)'X', 2, 0, 0, 0, 0xC3, 0x28).Op('.').ToArray(),
            _ => throw new ArgumentOutOfRangeException(nameof(name), name, null),
        };
    }
}
