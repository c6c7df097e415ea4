using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace Distributed.Client;

/// <summary>
/// The running program's deps.json and where its files are: beside the program (as a build or publish
/// lays them out) or in the NuGet package folders the host probes.
/// </summary>
internal sealed class ProgramDeps(DepsFile deps, string programFolder, IReadOnlyList<string> packageFolders)
{
    /// <summary>The host joins the deps files with ';' (and search paths with the platform's separator).</summary>
    private static readonly char[] HostListSeparators = [';', Path.PathSeparator];

    /// <summary>What the deps.json says.</summary>
    public DepsFile Deps { get; } = deps;

    /// <summary>
    /// The deps.json the host read for this process (the program's own, not a framework's), or the one
    /// beside the entry assembly; null when there is none or it does not parse (then only static
    /// references ship, as before).
    /// </summary>
    public static ProgramDeps? OfThisProcess()
    {
        var candidates = (AppContext.GetData("APP_CONTEXT_DEPS_FILES") as string ?? "")
            .Split(HostListSeparators, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
        if (Assembly.GetEntryAssembly()?.Location is { Length: > 0 } entry) candidates.Add(Path.ChangeExtension(entry, ".deps.json"));
        var runtimeDirectory = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        var sharedRoot = Path.GetFullPath(Path.Combine(runtimeDirectory, "..", ".."));
        var file = candidates.Select(Path.GetFullPath).FirstOrDefault(c => !c.StartsWith(sharedRoot, StringComparison.Ordinal) && File.Exists(c));
        if (file is null) return null;
        try
        {
            var deps = DepsFile.Parse(File.ReadAllText(file), RuntimeInformation.RuntimeIdentifier);
            return new ProgramDeps(deps, Path.GetDirectoryName(file)!, PackageFolders());
        }
        catch (Exception e) when (e is JsonException or IOException or KeyNotFoundException or InvalidOperationException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// The file of a library's asset: beside the program under its file name (<paramref name="inProgramFolder"/>)
    /// or under its path (<c>runtimes/RID/native/...</c>), else in a package folder; null when none has it.
    /// </summary>
    public string? Locate(DepsLibrary library, string assetPath, bool inProgramFolder)
    {
        var relative = assetPath.Replace('/', Path.DirectorySeparatorChar);
        var local = Path.Combine(programFolder, inProgramFolder ? Path.GetFileName(relative) : relative);
        if (File.Exists(local)) return local;
        if (library.PackagePath is { } packagePath)
            foreach (var folder in packageFolders)
            {
                var cached = Path.Combine(folder, packagePath.Replace('/', Path.DirectorySeparatorChar), relative);
                if (File.Exists(cached)) return cached;
            }
        return null;
    }

    /// <summary>
    /// The file of a library's satellite resource assembly: beside the program in its culture's folder (as a
    /// build copies it), else under its path in a package folder; null when none has it.
    /// </summary>
    public string? LocateResource(DepsLibrary library, string assetPath, string culture)
    {
        var local = Path.Combine(programFolder, culture, Path.GetFileName(assetPath));
        return File.Exists(local) ? local : Locate(library, assetPath, inProgramFolder: false);
    }

    private static List<string> PackageFolders()
    {
        var folders = (AppContext.GetData("PROBING_DIRECTORIES") as string ?? "")
            .Split(HostListSeparators, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
        if (Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } configured) folders.Add(configured);
        folders.Add(Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages"));
        return folders;
    }
}
