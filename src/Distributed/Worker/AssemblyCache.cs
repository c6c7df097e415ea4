using System.Security.Cryptography;
using Distributed.Protocol;
using Distributed.Security;

namespace Distributed.Worker;

/// <summary>
/// The user assemblies a worker has received, on disk by content hash: each arrives once per worker,
/// whichever client sends it, and executors load them from here.
/// </summary>
public sealed class AssemblyCache(string directory)
{
    /// <summary>Where the assemblies are kept.</summary>
    public string Directory { get; } = directory;

    /// <summary>Whether the assembly is already here.</summary>
    public bool Contains(AssemblyRef assembly) => File.Exists(PathOf(assembly));

    /// <summary>The file of an assembly; the file name is its simple name, which executors resolve by.</summary>
    public string PathOf(AssemblyRef assembly) => Path.Combine(Directory, assembly.Hash, assembly.Name + ".dll");

    /// <summary>Stores an assembly after checking that its bytes match its hash.</summary>
    public void Store(AssemblyRef assembly, byte[] bytes)
    {
        var actual = Convert.ToHexStringLower(SHA256.HashData(bytes));
        if (actual != assembly.Hash)
            throw new InvalidDataException($"Assembly {assembly.Name} arrived with hash {actual}, expected {assembly.Hash}.");
        var path = PathOf(assembly);
        PrivateFiles.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
        PrivateFiles.WriteAllBytes(temporary, bytes);
        File.Move(temporary, path, overwrite: true);
    }
}
