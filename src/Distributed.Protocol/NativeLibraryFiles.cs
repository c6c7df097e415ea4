using System.Text.RegularExpressions;

namespace Distributed.Protocol;

/// <summary>
/// Native libraries as code shipping handles them: which of a manifest's files a worker of one runtime
/// identifier (RID) needs, and the names a library is asked for by (<c>DllImport("e_sqlite3")</c> means
/// the file <c>libe_sqlite3.so</c> on Linux, <c>e_sqlite3.dll</c> on Windows).
/// </summary>
/// <example>
/// <code>
/// var (code, problem) = NativeLibraryFiles.ForRuntime(manifest, "linux-x64");
/// // code.Assemblies now also lists libe_sqlite3.so of runtimes/linux-x64; problem names a package without one
/// </code>
/// </example>
public static partial class NativeLibraryFiles
{
    /// <summary>
    /// The manifest a worker of <paramref name="runtimeId"/> runs: its assemblies plus, for each package
    /// with native libraries, the files of the most specific RID this one falls back to (linux-x64, linux,
    /// unix, any), as <see cref="AssemblyRef"/>s named by file name. The problem names the first package
    /// that has native libraries but none this worker can load (null when there is none).
    /// </summary>
    public static (CodeManifest Code, string? Problem) ForRuntime(CodeManifest code, string runtimeId)
    {
        if (code.NativeLibraries.Count == 0) return (code, null);
        var candidates = FallbacksOf(runtimeId);
        var files = new List<AssemblyRef>(code.Assemblies);
        string? problem = null;
        foreach (var package in code.NativeLibraries.GroupBy(n => n.Package, StringComparer.OrdinalIgnoreCase))
        {
            var chosen = candidates.FirstOrDefault(rid => package.Any(n => string.Equals(n.RuntimeId, rid, StringComparison.OrdinalIgnoreCase)));
            if (chosen is null)
            {
                problem ??= $"The package {package.Key} has no native library for this worker's runtime {runtimeId} (it has them for "
                    + string.Join(", ", package.Select(n => n.RuntimeId).Distinct(StringComparer.OrdinalIgnoreCase).Order(StringComparer.Ordinal))
                    + "), so code that uses it cannot run here.";
                continue;
            }
            files.AddRange(package.Where(n => string.Equals(n.RuntimeId, chosen, StringComparison.OrdinalIgnoreCase)).Select(n => new AssemblyRef(n.FileName, n.Hash)));
        }
        return (code with { Assemblies = files, Natives = null }, problem);
    }

    /// <summary>The RIDs whose native files a machine of <paramref name="runtimeId"/> loads, most specific first.</summary>
    public static IReadOnlyList<string> FallbacksOf(string runtimeId)
    {
        var fallbacks = new List<string> { runtimeId };
        var dash = runtimeId.LastIndexOf('-');
        var os = dash > 0 ? runtimeId[..dash] : runtimeId;
        var architecture = dash > 0 ? runtimeId[(dash + 1)..] : "";
        if (os.StartsWith("linux-musl", StringComparison.OrdinalIgnoreCase))
        {
            fallbacks.Add("linux-musl");
            if (architecture.Length > 0) fallbacks.Add("linux-" + architecture);
        }
        if (os.StartsWith("linux", StringComparison.OrdinalIgnoreCase)) fallbacks.Add("linux");
        else if (os.StartsWith("osx", StringComparison.OrdinalIgnoreCase)) fallbacks.Add("osx");
        else if (os.StartsWith("win", StringComparison.OrdinalIgnoreCase)) fallbacks.Add("win");
        if (!os.StartsWith("win", StringComparison.OrdinalIgnoreCase)) fallbacks.Add("unix");
        fallbacks.Add("any");
        return fallbacks.Distinct(StringComparer.OrdinalIgnoreCase).ToList();
    }

    /// <summary>The folder that holds a native library in a worker's cache (under its hash): how an executor tells it from an assembly.</summary>
    public const string CacheFolder = "native";

    /// <summary>Whether a cached file is a native library (it is in a <see cref="CacheFolder"/> folder; assemblies are in their hash's).</summary>
    public static bool IsCachedNativePath(string path) =>
        string.Equals(Path.GetFileName(Path.GetDirectoryName(path)), CacheFolder, StringComparison.Ordinal);

    /// <summary>Whether a shipped file's name is a native library's (<c>.so</c>, <c>.so.1.2</c>, <c>.dylib</c>, <c>.dll</c>), not an assembly's simple name.</summary>
    public static bool IsNativeFileName(string name) => NativeExtension().IsMatch(name);

    /// <summary>
    /// What a library is known by, whichever variant names it: <c>e_sqlite3</c>, <c>libe_sqlite3</c>,
    /// <c>libe_sqlite3.so</c> and <c>e_sqlite3.dll</c> all give <c>e_sqlite3</c>.
    /// </summary>
    public static string LibraryKey(string name)
    {
        var file = Path.GetFileName(name);
        file = NativeExtension().Replace(file, "");
        return file.StartsWith("lib", StringComparison.Ordinal) && file.Length > 3 ? file[3..] : file;
    }

    [GeneratedRegex(@"\.(so(\.[0-9]+)*|dylib|dll)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex NativeExtension();
}
