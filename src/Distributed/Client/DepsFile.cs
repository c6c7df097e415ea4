using System.Text.Json;

namespace Distributed.Client;

/// <summary>
/// What a program's <c>.deps.json</c> says it needs at run time, per library: its managed assemblies,
/// its native libraries per runtime identifier, and the libraries it depends on. Code shipping reads
/// it to send a package's assemblies loaded by name and its native files, which no static reference
/// names.
/// </summary>
/// <example>
/// <code>
/// var deps = DepsFile.Parse(File.ReadAllText("MyApp.deps.json"), "linux-x64");
/// foreach (var package in deps.PackagesFor(["Microsoft.Data.Sqlite.dll"])) Console.WriteLine(package.Name);
/// // Microsoft.Data.Sqlite.Core, SQLitePCLRaw.core, Microsoft.Data.Sqlite, SQLitePCLRaw.bundle_e_sqlite3, ...
/// </code>
/// </example>
internal sealed class DepsFile
{
    private readonly Dictionary<string, DepsLibrary> _byName;
    private readonly Dictionary<string, DepsLibrary> _byAssemblyFile;

    private DepsFile(List<DepsLibrary> libraries)
    {
        Libraries = libraries;
        _byName = new Dictionary<string, DepsLibrary>(StringComparer.OrdinalIgnoreCase);
        _byAssemblyFile = new Dictionary<string, DepsLibrary>(StringComparer.OrdinalIgnoreCase);
        foreach (var library in libraries)
        {
            _byName.TryAdd(library.Name, library);
            foreach (var assembly in library.RuntimeAssemblies) _byAssemblyFile.TryAdd(Path.GetFileName(assembly), library);
        }
    }

    /// <summary>Every library of the program's runtime target.</summary>
    public IReadOnlyList<DepsLibrary> Libraries { get; }

    /// <summary>
    /// Reads a deps.json. Native files of a RID-specific build (listed without a RID) are taken as
    /// <paramref name="programRuntimeId"/>'s, the RID the program was built for.
    /// </summary>
    public static DepsFile Parse(string json, string programRuntimeId)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        var targetName = root.GetProperty("runtimeTarget").GetProperty("name").GetString()!;
        // ".NETCoreApp,Version=v10.0/linux-x64": a build for one RID names it after the slash.
        var slash = targetName.IndexOf('/', StringComparison.Ordinal);
        var targetRuntimeId = slash >= 0 ? targetName[(slash + 1)..] : programRuntimeId;
        var kinds = new Dictionary<string, (string Type, string? Path)>(StringComparer.OrdinalIgnoreCase);
        if (root.TryGetProperty("libraries", out var libraries))
            foreach (var library in libraries.EnumerateObject())
                kinds[library.Name] = (Text(library.Value, "type") ?? "", Text(library.Value, "path"));
        var result = new List<DepsLibrary>();
        foreach (var entry in root.GetProperty("targets").GetProperty(targetName).EnumerateObject())
        {
            var separator = entry.Name.IndexOf('/', StringComparison.Ordinal);
            var name = separator >= 0 ? entry.Name[..separator] : entry.Name;
            var version = separator >= 0 ? entry.Name[(separator + 1)..] : "";
            var dependencies = Names(entry.Value, "dependencies");
            var runtime = Names(entry.Value, "runtime").Where(IsRealAsset).ToList();
            var natives = Names(entry.Value, "native").Where(IsRealAsset).Select(p => new DepsNativeAsset(targetRuntimeId, p, InProgramFolder: true)).ToList();
            if (entry.Value.TryGetProperty("runtimeTargets", out var runtimeTargets))
                foreach (var asset in runtimeTargets.EnumerateObject())
                    if (Text(asset.Value, "assetType") == "native" && Text(asset.Value, "rid") is { } rid && IsRealAsset(asset.Name))
                        natives.Add(new DepsNativeAsset(rid, asset.Name, InProgramFolder: false));
            var resources = new List<DepsResourceAsset>();
            if (entry.Value.TryGetProperty("resources", out var resourceAssets) && resourceAssets.ValueKind == JsonValueKind.Object)
                foreach (var asset in resourceAssets.EnumerateObject())
                    if (Text(asset.Value, "locale") is { } locale) resources.Add(new DepsResourceAsset(locale, asset.Name));
            var (type, path) = kinds.GetValueOrDefault(entry.Name, ("", null));
            result.Add(new DepsLibrary(name, version, type, path, dependencies, runtime, natives) { Resources = resources });
        }
        return new DepsFile(result);
    }

    /// <summary>The library whose runtime assets include the assembly file <paramref name="fileName"/>.</summary>
    public DepsLibrary? OwnerOf(string fileName) => _byAssemblyFile.GetValueOrDefault(Path.GetFileName(fileName));

    /// <summary>
    /// The packages that code using <paramref name="assemblyFiles"/> needs: the packages that own them,
    /// everything those depend on, and the packages without assemblies of their own that depend on one
    /// of them (as <c>Microsoft.Data.Sqlite</c> brings the bundle that <c>Microsoft.Data.Sqlite.Core</c>
    /// loads by name, and the native library); then again, until nothing is added. Project libraries
    /// (the program's own) are never expanded: their assemblies ship by reference.
    /// </summary>
    public IReadOnlyList<DepsLibrary> PackagesFor(IEnumerable<string> assemblyFiles)
    {
        var chosen = new List<DepsLibrary>();
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        void Add(DepsLibrary library)
        {
            if (!library.IsPackage || !names.Add(library.Name)) return;
            chosen.Add(library);
            foreach (var dependency in library.Dependencies)
                if (_byName.TryGetValue(dependency, out var next)) Add(next);
        }
        foreach (var file in assemblyFiles)
            if (OwnerOf(file) is { } owner) Add(owner);
        for (var added = true; added;)
        {
            added = false;
            foreach (var library in Libraries)
                if (library.IsPackage && library.RuntimeAssemblies.Count == 0 && !names.Contains(library.Name) && library.Dependencies.Any(names.Contains))
                {
                    Add(library);
                    added = true;
                }
        }
        return chosen;
    }

    /// <summary>The names of <paramref name="roots"/> and of every library they depend on, directly or not.</summary>
    public HashSet<string> ClosureOf(IEnumerable<string> roots)
    {
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var pending = new Stack<string>(roots);
        while (pending.TryPop(out var name))
            if (_byName.TryGetValue(name, out var library) && names.Add(library.Name))
                foreach (var dependency in library.Dependencies) pending.Push(dependency);
        return names;
    }

    private static bool IsRealAsset(string path) => !path.EndsWith("_._", StringComparison.Ordinal);

    private static string? Text(JsonElement element, string property) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static List<string> Names(JsonElement element, string property) =>
        element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.Object ? value.EnumerateObject().Select(p => p.Name).ToList() : [];
}

/// <summary>One library of a deps.json: a NuGet package or a project, with its run-time assets (paths as the deps.json lists them).</summary>
internal sealed record DepsLibrary(string Name, string Version, string Type, string? PackagePath, IReadOnlyList<string> Dependencies,
    IReadOnlyList<string> RuntimeAssemblies, IReadOnlyList<DepsNativeAsset> Natives)
{
    /// <summary>Its satellite resource assemblies (<c>lib/net8.0/fr/X.resources.dll</c>), by culture.</summary>
    public IReadOnlyList<DepsResourceAsset> Resources { get; init; } = [];

    /// <summary>Whether it is a NuGet package (not the program's own project).</summary>
    public bool IsPackage => string.Equals(Type, "package", StringComparison.OrdinalIgnoreCase);
}

/// <summary>
/// A native file of a library for one RID. <see cref="InProgramFolder"/>: the build copied it beside the
/// program under its file name (a RID-specific build); otherwise it is under its path (<c>runtimes/RID/native/...</c>).
/// </summary>
internal sealed record DepsNativeAsset(string RuntimeId, string Path, bool InProgramFolder);

/// <summary>A satellite resource assembly of a library for one culture (its path as the deps.json lists it).</summary>
internal sealed record DepsResourceAsset(string Locale, string Path);
