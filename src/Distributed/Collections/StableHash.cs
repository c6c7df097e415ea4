using System.Runtime.CompilerServices;

namespace Distributed.Collections;

/// <summary>
/// Hash codes that are the same in every process, for the shuffles of <see cref="Bag{T}"/>: the
/// partitions that split a shuffle run on different workers, so equal keys must agree on their
/// output partition everywhere, and <see cref="string.GetHashCode()"/> is randomized per process.
/// </summary>
/// <example>
/// <code>
/// uint hash = StableHash.Of("user-42"); // the same in every process, unlike "user-42".GetHashCode()
/// int partition = StableHash.Partition(("eu", 42), partitions: 8);
/// </code>
/// </example>
public static class StableHash
{
    private const uint FnvOffset = 2166136261;
    private const uint FnvPrime = 16777619;

    /// <summary>
    /// The hash of <paramref name="key"/>: FNV-1a of a string's characters; the value of numbers,
    /// characters, booleans, enums and the like; tuples combine their items; other types hash their
    /// <see cref="object.ToString"/> (records print their members, so equal records agree).
    /// </summary>
    /// <example>
    /// <code>
    /// Console.WriteLine(StableHash.Of("abc") == StableHash.Of("abc")); // True, in this process and on every worker
    /// </code>
    /// </example>
    public static uint Of(object? key) => key switch
    {
        null => 0,
        string text => Fnv(text),
        bool or char or byte or sbyte or short or ushort or int or uint or long or ulong or Enum or decimal or Guid or DateTime
            => (uint)key.GetHashCode(), // value-based in every process
        double number => number == 0 ? 0 : (uint)number.GetHashCode(), // 0.0 and -0.0 are equal keys
        float number => number == 0 ? 0 : (uint)number.GetHashCode(),
        ITuple tuple => Combine(tuple),
        _ => Fnv(key.ToString() ?? ""),
    };

    /// <summary>The output partition of <paramref name="key"/> among <paramref name="partitions"/>.</summary>
    /// <example>
    /// <code>
    /// var buckets = new[] { "a", "b", "c", "d" }.GroupBy(key => StableHash.Partition(key, 2)); // the buckets a shuffle would make
    /// </code>
    /// </example>
    public static int Partition(object? key, int partitions) => (int)(Of(key) % (uint)partitions);

    private static uint Fnv(string text)
    {
        var hash = FnvOffset;
        foreach (var character in text)
        {
            hash = (hash ^ (byte)character) * FnvPrime;
            hash = (hash ^ (byte)(character >> 8)) * FnvPrime;
        }
        return hash;
    }

    private static uint Combine(ITuple tuple)
    {
        var hash = FnvOffset;
        for (var i = 0; i < tuple.Length; i++) hash = (hash ^ Of(tuple[i])) * FnvPrime;
        return hash;
    }
}
