using System.Buffers.Binary;

namespace Distributed.Tests.Fuzz;

/// <summary>
/// Mutations of real frames, seeded so that a failure can be replayed: bit flips, truncations, a
/// 32-bit or 7-bit-encoded length set to -1, 0, 0x7fffffff or a large number, byte runs inserted or
/// removed, and splices of two frames (the head of one, the tail of another).
/// </summary>
public sealed class Mutations(int seed)
{
    private static readonly int[] Lengths = [-1, 0, 0x7fffffff, 0x40000000, 0x10000000, 1_000_000, int.MinValue, 65_536];

    public Random Random { get; } = new(seed);

    public byte[] Mutate(byte[] frame, byte[] other)
    {
        var bytes = (byte[])frame.Clone();
        if (bytes.Length == 0) return [(byte)Random.Next(256)];
        switch (Random.Next(8))
        {
            case 0:
                for (var i = Random.Next(1, 9); i > 0; i--) bytes[Random.Next(bytes.Length)] ^= (byte)(1 << Random.Next(8));
                return bytes;
            case 1:
                return bytes[..Random.Next(bytes.Length)];
            case 2 when bytes.Length >= 4:
                BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(Random.Next(bytes.Length - 3)), Lengths[Random.Next(Lengths.Length)]);
                return bytes;
            case 3:
                {
                    // A 7-bit encoded length (strings, byte fields): 0x7fffffff, or a continuation that never ends.
                    var at = Random.Next(bytes.Length);
                    byte[] varint = Random.Next(2) == 0 ? [0xFF, 0xFF, 0xFF, 0xFF, 0x07] : [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
                    return [.. bytes[..at], .. varint, .. bytes[Math.Min(bytes.Length, at + 1)..]];
                }
            case 4:
                {
                    var at = Random.Next(bytes.Length);
                    var run = new byte[Random.Next(1, 16)];
                    Random.NextBytes(run);
                    return [.. bytes[..at], .. run, .. bytes[at..]];
                }
            case 5:
                {
                    var at = Random.Next(bytes.Length);
                    return [.. bytes[..at], .. bytes[Math.Min(bytes.Length, at + Random.Next(1, 16))..]];
                }
            case 6 when other.Length > 0:
                return [.. bytes[..Random.Next(bytes.Length)], .. other[Random.Next(other.Length)..]];
            default:
                bytes[Random.Next(bytes.Length)] = (byte)Random.Next(256);
                return bytes;
        }
    }

    public byte[] Noise(int maxLength)
    {
        var bytes = new byte[Random.Next(maxLength + 1)];
        Random.NextBytes(bytes);
        return bytes;
    }
}
