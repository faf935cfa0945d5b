using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;
using System.Text;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Trajectories;

/// <summary>
/// A pickle reader for the <c>data.pkl</c> of a <c>torch.save</c> archive that executes nothing: it knows the opcodes of
/// protocols 0–5 that build data (numbers, strings, bytes, tuples, lists, dicts, memo), lets <c>REDUCE</c> call only the
/// few functions a state_dict needs (<c>collections.OrderedDict</c>, <c>torch._utils._rebuild_tensor_v2</c> and its
/// relatives) as descriptions, never as code, and refuses every other global call, object construction and extension.
/// Every length field is checked against the bytes left before anything is allocated.
/// </summary>
internal sealed class TorchPickle
{
    private const int MaxLineLength = 1024;
    private readonly byte[] _data;
    private readonly string _filePath;
    private readonly List<object?> _stack = [];
    private readonly Stack<int> _marks = new();
    private readonly Dictionary<long, object?> _memo = [];
    private int _position;

    private TorchPickle(byte[] data, string filePath)
    {
        _data = data;
        _filePath = filePath;
    }

    /// <summary>A reference to a global (module and name), kept as a name: it is never imported or called.</summary>
    public sealed record Global(string Module, string Name)
    {
        /// <inheritdoc />
        public override string ToString() => $"{Module}.{Name}";
    }

    /// <summary>A tensor storage named by a persistent id: its archive key, element type and element count.</summary>
    public sealed record Storage(string Key, ScalarType DType, long ElementCount);

    /// <summary>A tensor as <c>_rebuild_tensor_v2</c> describes it: a view of a storage.</summary>
    public sealed record TensorView(Storage Storage, long Offset, long[] Shape, long[] Stride);

    /// <summary>An insertion-ordered dict (Python dicts keep insertion order, and OrderedDict is the state_dict's type).</summary>
    public sealed class Dict
    {
        private readonly Dictionary<object, int> _index = [];

        /// <summary>The entries in insertion order.</summary>
        public List<KeyValuePair<object?, object?>> Entries { get; } = [];

        /// <summary>Sets a key, keeping its first position.</summary>
        public void Set(object? key, object? value)
        {
            var lookup = key ?? DBNull.Value;
            if (_index.TryGetValue(lookup, out var at))
            {
                Entries[at] = new(key, value);
            }
            else
            {
                _index[lookup] = Entries.Count;
                Entries.Add(new(key, value));
            }
        }
    }

    /// <summary>Runs the pickle in <paramref name="data"/> and returns the object it builds.</summary>
    /// <exception cref="TrajectoryStoreCorruptedException">The pickle is malformed, or asks for something a state_dict does not need (named in the message; nothing was run).</exception>
    public static object? Load(byte[] data, string filePath) => new TorchPickle(data, filePath).Run();

    private object? Run()
    {
        while (true)
        {
            if (_position >= _data.Length)
            {
                throw Fail("The pickle ends without a STOP opcode");
            }

            var at = _position;
            var opcode = _data[_position++];
            switch (opcode)
            {
                case 0x80: // PROTO
                    if (ReadByte() > 5)
                    {
                        throw Fail($"The pickle protocol {_data[_position - 1]} is newer than 5");
                    }

                    break;
                case 0x95: // FRAME: a length hint only
                    Take(8);
                    break;
                case (byte)'.': // STOP
                    return Pop();
                case (byte)'(': // MARK
                    _marks.Push(_stack.Count);
                    break;
                case (byte)'0': // POP
                    Pop();
                    break;
                case (byte)'1': // POP_MARK
                    PopMark();
                    break;
                case (byte)'2': // DUP
                    Push(Peek());
                    break;
                case (byte)'N':
                    Push(null);
                    break;
                case 0x88:
                    Push(true);
                    break;
                case 0x89:
                    Push(false);
                    break;
                case (byte)'J': // BININT
                    Push((long)BinaryPrimitives.ReadInt32LittleEndian(Take(4)));
                    break;
                case (byte)'K': // BININT1
                    Push((long)ReadByte());
                    break;
                case (byte)'M': // BININT2
                    Push((long)BinaryPrimitives.ReadUInt16LittleEndian(Take(2)));
                    break;
                case 0x8a: // LONG1
                    Push(Long(Take(ReadByte())));
                    break;
                case 0x8b: // LONG4
                    Push(Long(Take(Length(BinaryPrimitives.ReadInt32LittleEndian(Take(4))))));
                    break;
                case (byte)'I': // INT (text; "I01"/"I00" are True/False)
                    Push(TextInteger(ReadLine()));
                    break;
                case (byte)'L': // LONG (text)
                    Push(TextInteger(ReadLine().TrimEnd('L')));
                    break;
                case (byte)'G': // BINFLOAT (big-endian)
                    Push(BinaryPrimitives.ReadDoubleBigEndian(Take(8)));
                    break;
                case (byte)'F': // FLOAT (text)
                    Push(double.TryParse(ReadLine(), NumberStyles.Float, CultureInfo.InvariantCulture, out var number) ? number : throw Fail("A FLOAT opcode holds no number"));
                    break;
                case (byte)'X': // BINUNICODE
                    Push(Utf8(Take(Length(BinaryPrimitives.ReadUInt32LittleEndian(Take(4))))));
                    break;
                case 0x8c: // SHORT_BINUNICODE
                    Push(Utf8(Take(ReadByte())));
                    break;
                case 0x8d: // BINUNICODE8
                    Push(Utf8(Take(Length(BinaryPrimitives.ReadUInt64LittleEndian(Take(8))))));
                    break;
                case (byte)'T': // BINSTRING (Python 2 str)
                    Push(Encoding.Latin1.GetString(Take(Length(BinaryPrimitives.ReadInt32LittleEndian(Take(4))))));
                    break;
                case (byte)'U': // SHORT_BINSTRING
                    Push(Encoding.Latin1.GetString(Take(ReadByte())));
                    break;
                case (byte)'B': // BINBYTES
                    Push(Take(Length(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)))).ToArray());
                    break;
                case (byte)'C': // SHORT_BINBYTES
                    Push(Take(ReadByte()).ToArray());
                    break;
                case 0x8e: // BINBYTES8
                case 0x96: // BYTEARRAY8
                    Push(Take(Length(BinaryPrimitives.ReadUInt64LittleEndian(Take(8)))).ToArray());
                    break;
                case (byte)'}': // EMPTY_DICT
                    Push(new Dict());
                    break;
                case (byte)'d': // DICT
                    Push(ToDict(PopMark()));
                    break;
                case (byte)'s': // SETITEM
                    {
                        var value = Pop();
                        var key = Pop();
                        AsDict(Peek(), "SETITEM").Set(Key(key), value);
                        break;
                    }

                case (byte)'u': // SETITEMS
                    {
                        var items = PopMark();
                        var dict = AsDict(Peek(), "SETITEMS");
                        if (items.Count % 2 != 0)
                        {
                            throw Fail("SETITEMS has an odd number of items");
                        }

                        for (var i = 0; i < items.Count; i += 2)
                        {
                            dict.Set(Key(items[i]), items[i + 1]);
                        }

                        break;
                    }

                case (byte)']': // EMPTY_LIST
                case 0x8f: // EMPTY_SET (kept as a list)
                    Push(new List<object?>());
                    break;
                case (byte)'l': // LIST
                case 0x91: // FROZENSET
                    Push(PopMark());
                    break;
                case (byte)'a': // APPEND
                    {
                        var value = Pop();
                        AsList(Peek(), "APPEND").Add(value);
                        break;
                    }

                case (byte)'e': // APPENDS
                case 0x90: // ADDITEMS
                    {
                        var items = PopMark();
                        AsList(Peek(), "APPENDS").AddRange(items);
                        break;
                    }

                case (byte)')': // EMPTY_TUPLE
                    Push(Array.Empty<object?>());
                    break;
                case (byte)'t': // TUPLE
                    Push(PopMark().ToArray());
                    break;
                case 0x85: // TUPLE1
                    Push(new[] { Pop() });
                    break;
                case 0x86: // TUPLE2
                    {
                        var b = Pop();
                        var a = Pop();
                        Push(new[] { a, b });
                        break;
                    }

                case 0x87: // TUPLE3
                    {
                        var c = Pop();
                        var b = Pop();
                        var a = Pop();
                        Push(new[] { a, b, c });
                        break;
                    }

                case (byte)'c': // GLOBAL
                    {
                        var module = ReadLine();
                        Push(new Global(module, ReadLine()));
                        break;
                    }

                case 0x93: // STACK_GLOBAL
                    {
                        var name = Pop() as string;
                        var module = Pop() as string;
                        Push(module is not null && name is not null ? new Global(module, name) : throw Fail("STACK_GLOBAL needs two strings"));
                        break;
                    }

                case (byte)'Q': // BINPERSID
                    Push(PersistentLoad(Pop()));
                    break;
                case (byte)'R': // REDUCE
                    {
                        var arguments = Pop() as object?[] ?? throw Fail("REDUCE needs a tuple of arguments");
                        Push(Reduce(Pop(), arguments));
                        break;
                    }

                case (byte)'b': // BUILD: state for an OrderedDict (its _metadata) or a tensor; nothing else is built
                    {
                        Pop();
                        if (Peek() is not (Dict or TensorView))
                        {
                            throw Fail($"BUILD sets the state of a {Describe(Peek())}; a state_dict needs it only for dicts and tensors");
                        }

                        break;
                    }

                case (byte)'p': // PUT
                    _memo[TextInteger(ReadLine())] = Peek();
                    break;
                case (byte)'q': // BINPUT
                    _memo[ReadByte()] = Peek();
                    break;
                case (byte)'r': // LONG_BINPUT
                    _memo[BinaryPrimitives.ReadUInt32LittleEndian(Take(4))] = Peek();
                    break;
                case 0x94: // MEMOIZE
                    _memo[_memo.Count] = Peek();
                    break;
                case (byte)'g': // GET
                    Push(Recall(TextInteger(ReadLine())));
                    break;
                case (byte)'h': // BINGET
                    Push(Recall(ReadByte()));
                    break;
                case (byte)'j': // LONG_BINGET
                    Push(Recall(BinaryPrimitives.ReadUInt32LittleEndian(Take(4))));
                    break;
                case 0x81: // NEWOBJ
                case 0x92: // NEWOBJ_EX
                case (byte)'i': // INST
                case (byte)'o': // OBJ
                    throw Fail($"The pickle constructs an object (opcode 0x{opcode:X2} at byte {at}); a state_dict holds none, so it was not run");
                case 0x82: // EXT1
                case 0x83: // EXT2
                case 0x84: // EXT4
                    throw Fail($"The pickle uses the extension registry (opcode 0x{opcode:X2} at byte {at}); it was not run");
                default:
                    throw Fail($"The pickle has opcode 0x{opcode:X2} at byte {at}, which a torch.save state_dict does not use");
            }
        }
    }

    /// <summary>The persistent id of a tensor storage: ('storage', torch.XStorage, key, location, element count).</summary>
    private Storage PersistentLoad(object? pid)
    {
        if (pid is not object?[] { Length: >= 5 } id || id[0] as string != "storage" || id[1] is not Global type || id[2] is not string key || id[4] is not long count)
        {
            throw Fail($"The pickle has a persistent id {Describe(pid)}; torch.save writes ('storage', type, key, location, size)");
        }

        if (type.Module != "torch" || StorageType(type.Name) is not { } dtype)
        {
            throw Fail($"The storage type {type} is not supported (float, half, bfloat16, double, complex, integer and bool storages are)");
        }

        if (count < 0 || key.Length == 0 || key.Length > 64 || key.Any(c => !char.IsAsciiLetterOrDigit(c) && c != '_'))
        {
            throw Fail($"The storage '{key}' has {count} elements or an unexpected key");
        }

        return new Storage(key, dtype, count);
    }

    /// <summary>The only calls allowed, each returning a description; anything else is refused, never imported.</summary>
    private object? Reduce(object? callable, object?[] arguments)
    {
        if (callable is not Global function)
        {
            throw Fail($"REDUCE calls a {Describe(callable)}");
        }

        switch (function.Module, function.Name)
        {
            case ("collections", "OrderedDict"):
                {
                    // OrderedDict() or OrderedDict(iterable of (key, value) pairs), the iterable a list or a tuple.
                    var dict = new Dict();
                    if (arguments is [var items])
                    {
                        var pairs = items as IEnumerable<object?> ?? throw Fail($"OrderedDict is called with a {Describe(items)}, not a list or tuple of pairs");
                        foreach (var pair in pairs)
                        {
                            var kv = pair is object?[] { Length: 2 } p ? p : throw Fail("OrderedDict's items are not (key, value) pairs");
                            dict.Set(Key(kv[0]), kv[1]);
                        }
                    }
                    else if (arguments.Length != 0)
                    {
                        throw Fail($"OrderedDict is called with {arguments.Length} arguments");
                    }

                    return dict;
                }

            case ("torch._utils", "_rebuild_tensor_v2") when arguments.Length is >= 4 and <= 7:
            case ("torch._utils", "_rebuild_tensor") when arguments.Length == 4:
                return TensorViewOf(arguments);
            case ("torch._utils", "_rebuild_parameter") when arguments.Length == 3:
            case ("torch._utils", "_rebuild_parameter_with_state") when arguments.Length == 4:
                return arguments[0] is TensorView ? arguments[0] : throw Fail($"{function} wraps a {Describe(arguments[0])}, not a tensor");
            case ("_codecs", "encode") when arguments is [string text, string encoding]
                && (encoding.Equals("latin1", StringComparison.OrdinalIgnoreCase) || encoding.Equals("latin-1", StringComparison.OrdinalIgnoreCase)):
                return Encoding.Latin1.GetBytes(text);
            default:
                throw Fail($"The pickle calls {function} with {arguments.Length} argument(s); a state_dict needs only OrderedDict and torch's tensor rebuilders, so it was not run");
        }
    }

    private TensorView TensorViewOf(object?[] arguments)
    {
        if (arguments[0] is not Storage storage || arguments[1] is not long offset)
        {
            throw Fail($"A tensor is rebuilt from a {Describe(arguments[0])} at offset {Describe(arguments[1])}, not from a storage");
        }

        return new TensorView(storage, offset, Longs(arguments[2], "size"), Longs(arguments[3], "stride"));
    }

    private long[] Longs(object? value, string what) =>
        value is object?[] items && items.All(i => i is long)
            ? [.. items.Cast<long>()]
            : throw Fail($"A tensor's {what} is a {Describe(value)}, not a tuple of integers");

    private static ScalarType? StorageType(string name) => name switch
    {
        "DoubleStorage" => ScalarType.Float64,
        "FloatStorage" => ScalarType.Float32,
        "HalfStorage" => ScalarType.Float16,
        "BFloat16Storage" => ScalarType.BFloat16,
        "LongStorage" => ScalarType.Int64,
        "IntStorage" => ScalarType.Int32,
        "ShortStorage" => ScalarType.Int16,
        "CharStorage" => ScalarType.Int8,
        "ByteStorage" => ScalarType.Byte,
        "BoolStorage" => ScalarType.Bool,
        "ComplexFloatStorage" => ScalarType.ComplexFloat32,
        "ComplexDoubleStorage" => ScalarType.ComplexFloat64,
        _ => null,
    };

    private Dict ToDict(List<object?> items)
    {
        if (items.Count % 2 != 0)
        {
            throw Fail("DICT has an odd number of items");
        }

        var dict = new Dict();
        for (var i = 0; i < items.Count; i += 2)
        {
            dict.Set(Key(items[i]), items[i + 1]);
        }

        return dict;
    }

    /// <summary>Dict keys must be hashable values; containers are refused (their identity would not mean what Python's does).</summary>
    private object? Key(object? key) => key is null or string or long or bool or double or BigInteger or Global
        ? key
        : throw Fail($"A dict key is a {Describe(key)}");

    private Dict AsDict(object? value, string opcode) => value as Dict ?? throw Fail($"{opcode} applies to a {Describe(value)}, not a dict");

    private List<object?> AsList(object? value, string opcode) => value as List<object?> ?? throw Fail($"{opcode} applies to a {Describe(value)}, not a list");

    private object? Recall(long key) => _memo.TryGetValue(key, out var value) ? value : throw Fail($"The pickle recalls memo {key}, which was never stored");

    private void Push(object? value) => _stack.Add(value);

    private object? Peek() => _stack.Count > 0 && (_marks.Count == 0 || _marks.Peek() < _stack.Count) ? _stack[^1] : throw Fail("The pickle reads from an empty stack");

    private object? Pop()
    {
        var value = Peek();
        _stack.RemoveAt(_stack.Count - 1);
        return value;
    }

    private List<object?> PopMark()
    {
        if (_marks.Count == 0)
        {
            throw Fail("The pickle uses a mark it never set");
        }

        var mark = _marks.Pop();
        var items = _stack.GetRange(mark, _stack.Count - mark);
        _stack.RemoveRange(mark, _stack.Count - mark);
        return items;
    }

    private byte ReadByte() => Take(1)[0];

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count < 0 || count > _data.Length - _position)
        {
            throw Fail($"The pickle is truncated: {count} bytes are needed at byte {_position}, {_data.Length - _position} remain");
        }

        var span = _data.AsSpan(_position, count);
        _position += count;
        return span;
    }

    private int Length(long length) => length >= 0 && length <= _data.Length - _position
        ? (int)length
        : throw Fail($"The pickle states a length of {length} bytes at byte {_position}; {_data.Length - _position} remain");

    private int Length(ulong length) => Length(length > long.MaxValue ? -1 : (long)length);

    private string ReadLine()
    {
        var end = _data.AsSpan(_position, Math.Min(MaxLineLength, _data.Length - _position)).IndexOf((byte)'\n');
        if (end < 0)
        {
            throw Fail($"The pickle has no line end within {MaxLineLength} bytes of byte {_position}");
        }

        var line = Encoding.UTF8.GetString(_data, _position, end);
        _position += end + 1;
        return line;
    }

    private long TextInteger(string text) => text switch
    {
        "01" => 1,
        "00" => 0,
        _ => long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) ? value : throw Fail($"'{text}' is not an integer"),
    };

    private static object Long(ReadOnlySpan<byte> bytes)
    {
        var value = new BigInteger(bytes, isUnsigned: false, isBigEndian: false);
        return value >= long.MinValue && value <= long.MaxValue ? (object)(long)value : value;
    }

    private string Utf8(ReadOnlySpan<byte> bytes)
    {
        try
        {
            return new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            throw new TrajectoryStoreCorruptedException(_filePath, $"The pickle holds a string that is not UTF-8 near byte {_position}", e);
        }
    }

    private static string Describe(object? value) => value switch
    {
        null => "None",
        string s => $"string '{(s.Length > 40 ? s[..40] + "…" : s)}'",
        long l => $"integer {l}",
        Global g => $"global {g}",
        object?[] t => $"tuple of {t.Length}",
        _ => value.GetType().Name,
    };

    private TrajectoryStoreCorruptedException Fail(string message) => new(_filePath, message);
}
