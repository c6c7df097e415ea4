using Distributed.Protocol;
using Distributed.Protocol.Security;

namespace Distributed.Worker;

/// <summary>
/// The user assemblies a worker has received, on disk by content hash: each arrives once per worker,
/// whichever client sends it, and executors load them from here. A name or hash that could leave the
/// cache's folder is refused, and a file this process did not store and check itself (left by an
/// earlier run, or changed on disk) is hashed again before it counts as present.
/// </summary>
public sealed class AssemblyCache(string directory, Action<string>? logWarning = null) : Core.IAssemblyFiles
{
    /// <summary>Hashes whose files this process has stored or checked: hashed once, not at every batch.</summary>
    private readonly HashSet<string> _checked = new(StringComparer.Ordinal);

    /// <summary>Where the assemblies are kept.</summary>
    public string Directory { get; } = directory;

    /// <summary>
    /// Whether the assembly is here, with the bytes its hash names. A file whose bytes do not match is
    /// deleted (and reported), so that the assembly is fetched again rather than loaded. A file this
    /// process already checked is hashed again only when <paramref name="recheck"/> (before a load).
    /// </summary>
    public bool Contains(AssemblyRef assembly, bool recheck = false)
    {
        var path = PathOf(assembly);
        if (!recheck && _checked.Contains(assembly.Hash) && File.Exists(path)) return true;
        _checked.Remove(assembly.Hash);
        if (!File.Exists(path)) return false;
        string actual;
        try { actual = ContentAddress.AssemblyHashOf(File.ReadAllBytes(path)); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            logWarning?.Invoke($"The cached assembly {path} cannot be read ({e.Message}); it is fetched again.");
            return false;
        }
        if (actual == assembly.Hash)
        {
            _checked.Add(assembly.Hash);
            return true;
        }
        logWarning?.Invoke($"The cached assembly {path} has hash {actual}, not {assembly.Hash} (changed on disk): it is deleted, not loaded, and fetched again.");
        try { File.Delete(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return false;
    }

    /// <summary>
    /// The file of an assembly; the file name is its simple name, which executors resolve by (a native
    /// library keeps its own file name, which tells executors it is one; a satellite resource assembly
    /// is in a folder of its culture, as a build lays it out). Throws <see cref="InvalidDataException"/>
    /// for a name or hash that is not a plain file name or a satellite's <c>culture/Name.resources</c>.
    /// </summary>
    public string PathOf(AssemblyRef assembly)
    {
        ContentAddress.Check(assembly);
        if (SatelliteNames.TrySplit(assembly.Name, out var culture, out var satellite))
            return Path.Combine(Directory, assembly.Hash, culture, satellite + ".dll");
        return NativeLibraryFiles.IsNativeFileName(assembly.Name)
            ? Path.Combine(Directory, assembly.Hash, NativeLibraryFiles.CacheFolder, assembly.Name)
            : Path.Combine(Directory, assembly.Hash, assembly.Name + ".dll");
    }

    /// <summary>Stores an assembly after checking that its bytes match its hash.</summary>
    public void Store(AssemblyRef assembly, byte[] bytes)
    {
        var path = PathOf(assembly);
        var actual = ContentAddress.AssemblyHashOf(bytes);
        if (actual != assembly.Hash)
            throw new InvalidDataException($"Assembly {assembly.Name} arrived with hash {actual}, expected {assembly.Hash}.");
        PrivateFiles.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
        PrivateFiles.WriteAllBytes(temporary, bytes);
        File.Move(temporary, path, overwrite: true);
        _checked.Add(assembly.Hash);
    }
}
