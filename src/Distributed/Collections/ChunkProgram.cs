using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;

namespace Distributed.Collections;

/// <summary>What a chunk program instruction does; operands come from and go to a stack.</summary>
internal enum ChunkOp
{
    /// <summary>Push input chunk <c>A</c>.</summary>
    Input,
    /// <summary>Push <c>A + (i + C) * B</c> for the chunk's element i (arange).</summary>
    Arange,
    /// <summary>Push the constant <c>A</c>.</summary>
    Constant,
    /// <summary>Push uniform values in [0, 1) from seed <c>A</c>, by global index (origin <c>B</c>, chunk columns <c>C</c>, array columns <c>D</c>).</summary>
    Random,
    Add, Subtract, Multiply, Divide, Negate,
    /// <summary>Apply function <c>A</c> of the program's function list to each element.</summary>
    Map,
}

/// <summary>One step of a <see cref="ChunkProgram"/>.</summary>
internal readonly record struct Instruction(ChunkOp Op, double A = 0, double B = 0, double C = 0, double D = 0);

/// <summary>
/// A fused chunk: how to produce one chunk from input chunks or a generator and a list of pending
/// elementwise operations. A chain like <c>(x * 2 + 1).Sum()</c> runs as one task per chunk, with no
/// intermediate array in between.
/// </summary>
internal sealed record ChunkProgram(int Length, Instruction[] Code, string[] Inputs)
{
    private const int Width = 5;

    /// <summary>A program that only reads chunk <paramref name="key"/>: the chunk exists in the graph.</summary>
    public static ChunkProgram Read(int length, string key) => new(length, [new Instruction(ChunkOp.Input)], [key]);

    /// <summary>Whether this is the plain chunk <see cref="Inputs"/>[0].</summary>
    public bool IsPlainInput => Code is [{ Op: ChunkOp.Input, A: 0 }] && Inputs.Length == 1;

    /// <summary>This program followed by <paramref name="ops"/>.</summary>
    public ChunkProgram Then(params Instruction[] ops) => this with { Code = [.. Code, .. ops] };

    /// <summary>
    /// This program, then <paramref name="other"/> on its own inputs and functions (numbered after
    /// this one's), then <paramref name="op"/>, which combines the two results.
    /// </summary>
    public ChunkProgram Combine(ChunkProgram other, int functionShift, ChunkOp op)
    {
        var shifted = other.Code.Select(i => i.Op switch
        {
            ChunkOp.Input => i with { A = i.A + Inputs.Length },
            ChunkOp.Map => i with { A = i.A + functionShift },
            _ => i,
        });
        return new ChunkProgram(Length, [.. Code, .. shifted, new Instruction(op)], [.. Inputs, .. other.Inputs]);
    }

    /// <summary>
    /// The program as a flat array (length, then five numbers per instruction): a task argument the
    /// value codec copies raw.
    /// </summary>
    public double[] Encode()
    {
        var code = new double[1 + Code.Length * Width];
        code[0] = Length;
        for (var i = 0; i < Code.Length; i++)
        {
            var at = 1 + i * Width;
            (code[at], code[at + 1], code[at + 2], code[at + 3], code[at + 4]) = ((int)Code[i].Op, Code[i].A, Code[i].B, Code[i].C, Code[i].D);
        }
        return code;
    }

    public static (int Length, Instruction[] Code) Decode(double[] code)
    {
        var instructions = new Instruction[(code.Length - 1) / Width];
        for (var i = 0; i < instructions.Length; i++)
        {
            var at = 1 + i * Width;
            instructions[i] = new Instruction((ChunkOp)(int)code[at], code[at + 1], code[at + 2], code[at + 3], code[at + 4]);
        }
        return ((int)code[0], instructions);
    }
}

/// <summary>
/// Runs a chunk program tile by tile (4096 elements, pooled buffers), each operation a
/// <see cref="TensorPrimitives"/> call on the whole tile.
/// </summary>
internal sealed class ChunkEvaluator : IDisposable
{
    public const int TileSize = 4096;

    private readonly Instruction[] _code;
    private readonly Func<double, double>[] _functions;
    private readonly double[][] _inputs;
    private readonly Stack<double[]> _free = new();
    private readonly List<double[]> _rented = [];
    private readonly Stack<Operand> _stack = new();

    /// <summary>A stack entry: a constant, a tile buffer the program may overwrite, or a read-only slice of an input.</summary>
    private readonly record struct Operand(double Scalar, double[]? Buffer, int Input = -1)
    {
        public bool IsScalar => Buffer is null && Input < 0;
    }

    public ChunkEvaluator(double[] code, Func<double, double>[] functions, double[][] inputs)
    {
        (Length, _code) = ChunkProgram.Decode(code);
        _functions = functions;
        _inputs = inputs;
        foreach (var input in inputs)
            if (input.Length != Length) throw new ArgumentException($"An input chunk has {input.Length} values where {Length} were expected.");
    }

    /// <summary>Number of values in the chunk.</summary>
    public int Length { get; }

    /// <summary>Values [<paramref name="offset"/>, <paramref name="offset"/> + <paramref name="count"/>) of the chunk; valid until the next call.</summary>
    public ReadOnlySpan<double> Tile(int offset, int count)
    {
        foreach (var step in _code) Run(step, offset, count);
        var result = _stack.Pop();
        if (_stack.Count != 0) throw new InvalidOperationException("A chunk program left more than one value.");
        if (result.Input >= 0) return _inputs[result.Input].AsSpan(offset, count);
        if (result.Buffer is { } buffer)
        {
            _free.Push(buffer);
            return buffer.AsSpan(0, count);
        }
        var filled = Rent();
        _free.Push(filled);
        filled.AsSpan(0, count).Fill(result.Scalar);
        return filled.AsSpan(0, count);
    }

    /// <summary>The whole chunk as a new array.</summary>
    public double[] Materialize()
    {
        if (_code is [{ Op: ChunkOp.Input } only]) return _inputs[(int)only.A];
        var values = new double[Length];
        for (var offset = 0; offset < Length; offset += TileSize)
        {
            var count = Math.Min(TileSize, Length - offset);
            Tile(offset, count).CopyTo(values.AsSpan(offset, count));
        }
        return values;
    }

    private void Run(Instruction step, int offset, int count)
    {
        switch (step.Op)
        {
            case ChunkOp.Input:
                _stack.Push(new Operand(0, null, (int)step.A));
                break;
            case ChunkOp.Constant:
                _stack.Push(new Operand(step.A, null));
                break;
            case ChunkOp.Arange:
                {
                    var buffer = Rent();
                    Generators.Arange(buffer.AsSpan(0, count), step.A, step.B, step.C + offset);
                    _stack.Push(new Operand(0, buffer));
                    break;
                }
            case ChunkOp.Random:
                {
                    var buffer = Rent();
                    Generators.Uniform(buffer.AsSpan(0, count), (long)step.A, (long)step.B, (int)step.C, (long)step.D, offset);
                    _stack.Push(new Operand(0, buffer));
                    break;
                }
            case ChunkOp.Negate:
                {
                    var value = _stack.Pop();
                    if (value.IsScalar) { _stack.Push(value with { Scalar = -value.Scalar }); break; }
                    var destination = Writable(value, count);
                    TensorPrimitives.Negate(Read(value, offset, count), destination.AsSpan(0, count));
                    _stack.Push(new Operand(0, destination));
                    break;
                }
            case ChunkOp.Map:
                {
                    var function = _functions[(int)step.A];
                    var value = _stack.Pop();
                    if (value.IsScalar) { _stack.Push(value with { Scalar = function(value.Scalar) }); break; }
                    var destination = Writable(value, count);
                    var source = Read(value, offset, count);
                    var target = destination.AsSpan(0, count);
                    for (var i = 0; i < target.Length; i++) target[i] = function(source[i]);
                    _stack.Push(new Operand(0, destination));
                    break;
                }
            default:
                Binary(step.Op, offset, count);
                break;
        }
    }

    private void Binary(ChunkOp op, int offset, int count)
    {
        var right = _stack.Pop();
        var left = _stack.Pop();
        if (left.IsScalar && right.IsScalar)
        {
            _stack.Push(new Operand(op switch
            {
                ChunkOp.Add => left.Scalar + right.Scalar,
                ChunkOp.Subtract => left.Scalar - right.Scalar,
                ChunkOp.Multiply => left.Scalar * right.Scalar,
                _ => left.Scalar / right.Scalar,
            }, null));
            return;
        }
        // The result overwrites whichever operand is a buffer of ours (TensorPrimitives allows an
        // exact overlap between an input and the destination); the other buffer goes back.
        var destination = left.Buffer ?? right.Buffer ?? Rent();
        if (right.Buffer is { } spare && !ReferenceEquals(spare, destination)) _free.Push(spare);
        var target = destination.AsSpan(0, count);
        if (right.IsScalar)
        {
            var x = Read(left, offset, count);
            switch (op)
            {
                case ChunkOp.Add: TensorPrimitives.Add(x, right.Scalar, target); break;
                case ChunkOp.Subtract: TensorPrimitives.Subtract(x, right.Scalar, target); break;
                case ChunkOp.Multiply: TensorPrimitives.Multiply(x, right.Scalar, target); break;
                default: TensorPrimitives.Divide(x, right.Scalar, target); break;
            }
        }
        else if (left.IsScalar)
        {
            var y = Read(right, offset, count);
            switch (op)
            {
                case ChunkOp.Add: TensorPrimitives.Add(y, left.Scalar, target); break;
                case ChunkOp.Subtract: TensorPrimitives.Subtract(left.Scalar, y, target); break;
                case ChunkOp.Multiply: TensorPrimitives.Multiply(y, left.Scalar, target); break;
                default: TensorPrimitives.Divide(left.Scalar, y, target); break;
            }
        }
        else
        {
            var x = Read(left, offset, count);
            var y = Read(right, offset, count);
            switch (op)
            {
                case ChunkOp.Add: TensorPrimitives.Add(x, y, target); break;
                case ChunkOp.Subtract: TensorPrimitives.Subtract(x, y, target); break;
                case ChunkOp.Multiply: TensorPrimitives.Multiply(x, y, target); break;
                default: TensorPrimitives.Divide(x, y, target); break;
            }
        }
        _stack.Push(new Operand(0, destination));
    }

    private ReadOnlySpan<double> Read(Operand operand, int offset, int count) =>
        operand.Buffer is { } buffer ? buffer.AsSpan(0, count) : _inputs[operand.Input].AsSpan(offset, count);

    private double[] Writable(Operand operand, int count) => operand.Buffer ?? Rent();

    private double[] Rent()
    {
        if (_free.TryPop(out var buffer)) return buffer;
        buffer = ArrayPool<double>.Shared.Rent(TileSize);
        _rented.Add(buffer);
        return buffer;
    }

    public void Dispose()
    {
        foreach (var buffer in _rented) ArrayPool<double>.Shared.Return(buffer);
        _rented.Clear();
        _free.Clear();
    }
}

/// <summary>The generated sources of arrays, filled a tile at a time.</summary>
internal static class Generators
{
    /// <summary><c>start + (first + i) * step</c>: computed from the index, so no rounding accumulates.</summary>
    public static void Arange(Span<double> destination, double start, double step, double first)
    {
        var i = 0;
        if (Vector.IsHardwareAccelerated && destination.Length >= Vector<double>.Count)
        {
            Span<double> lanes = stackalloc double[Vector<double>.Count];
            for (var lane = 0; lane < lanes.Length; lane++) lanes[lane] = lane;
            var index = new Vector<double>(lanes) + new Vector<double>(first);
            var advance = new Vector<double>(Vector<double>.Count);
            var starts = new Vector<double>(start);
            var steps = new Vector<double>(step);
            for (; i <= destination.Length - Vector<double>.Count; i += Vector<double>.Count)
            {
                (index * steps + starts).CopyTo(destination[i..]);
                index += advance;
            }
        }
        for (; i < destination.Length; i++) destination[i] = start + (first + i) * step;
    }

    /// <summary>
    /// Uniform values in [0, 1), each a hash of the seed and the element's global (row-major) index,
    /// so the values do not depend on how the array is chunked.
    /// </summary>
    public static void Uniform(Span<double> destination, long seed, long origin, int chunkColumns, long arrayColumns, int offset)
    {
        var key = Mix((ulong)seed ^ 0x5DEECE66DUL);
        for (var i = 0; i < destination.Length; i++)
        {
            var local = offset + i;
            var (row, column) = Math.DivRem(local, chunkColumns);
            var global = (ulong)(origin + row * arrayColumns + column);
            destination[i] = (Mix(key + global * 0x9E3779B97F4A7C15UL) >> 11) * (1.0 / (1UL << 53));
        }
    }

    /// <summary>SplitMix64's finalizer.</summary>
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
