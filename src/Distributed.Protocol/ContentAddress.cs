using System.Security.Cryptography;

namespace Distributed.Protocol;

/// <summary>
/// Content addresses, checked rather than trusted: a function's id and an assembly's hash are hashes
/// of their bytes, recomputed wherever the bytes arrive, and an assembly's name becomes a file name
/// only when it cannot leave its folder.
/// </summary>
public static class ContentAddress
{
    /// <summary>Hex characters of a function id: the first half of the SHA-256 of its payload.</summary>
    private const int FunctionIdLength = 32;

    /// <summary>The id of a serialized function: its bytes' SHA-256, hex, first 32 characters.</summary>
    public static string FunctionIdOf(byte[] payload) => Convert.ToHexStringLower(SHA256.HashData(payload))[..FunctionIdLength];

    /// <summary>A function named by its bytes.</summary>
    public static FunctionSpec Function(byte[] payload) => new(FunctionIdOf(payload), payload);

    /// <summary>Whether the function's id is the hash of its payload.</summary>
    public static bool IsIntact(FunctionSpec function) => string.Equals(function.FunctionId, FunctionIdOf(function.Payload), StringComparison.Ordinal);

    /// <summary>The content hash of an assembly's bytes (SHA-256, lowercase hex).</summary>
    public static string AssemblyHashOf(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>
    /// Why <paramref name="assembly"/> cannot name a file in the assembly cache, or null when it can: its
    /// hash is 64 lowercase hex characters and its name a plain file name (no path separator, no '..',
    /// no control character, not empty), or a satellite's <c>culture/Name.resources</c> (<see cref="SatelliteNames"/>).
    /// </summary>
    public static string? Problem(AssemblyRef assembly)
    {
        var hash = assembly.Hash;
        if (hash is null || hash.Length != 64 || !hash.All(c => c is >= '0' and <= '9' or >= 'a' and <= 'f'))
            return $"The assembly {Quote(assembly.Name)} has a malformed hash {Quote(hash)}: a content hash is 64 lowercase hex characters.";
        var name = assembly.Name;
        // A satellite is kept in a folder of its culture: the culture is checked, then the file name.
        if (name is not null && SatelliteNames.TrySplit(name, out _, out var satellite)) name = satellite;
        if (string.IsNullOrEmpty(name) || name.Length > 255)
            return $"The assembly name {Quote(name)} is empty or too long.";
        if (name.Contains('/') || name.Contains('\\') || name.Contains("..", StringComparison.Ordinal) || name.Any(char.IsControl)
            || name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0)
            return $"The assembly name {Quote(name)} is refused: it contains a path separator, '..' or a character that cannot be in a file name.";
        return null;
    }

    /// <summary>Throws <see cref="InvalidDataException"/> naming the problem when <paramref name="assembly"/> cannot name a file.</summary>
    public static void Check(AssemblyRef assembly)
    {
        if (Problem(assembly) is { } problem) throw new InvalidDataException(problem);
    }

    private static string Quote(string? text) => text is null ? "(none)" : $"'{(text.Length > 80 ? text[..80] + "…" : text)}'";
}
