using System.Collections.Concurrent;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using Distributed.Protocol;

namespace Distributed.Client;

/// <summary>
/// Finds the user assemblies a function needs and names them by content, so that a worker fetches
/// each once and two builds of one program never share an executor. The .NET framework and
/// Distributed itself (with everything it depends on) are on every worker and never shipped.
/// </summary>
/// <example>
/// <code>
/// var shipping = new CodeShipping();
/// Func&lt;int, int&gt; square = x => x * x;
/// var manifest = shipping.ManifestFor(CodeShipping.TypesOf(square)); // this program's assembly; not the framework's
/// </code>
/// </example>
public sealed class CodeShipping
{
    private readonly ConcurrentDictionary<string, AssemblyRef> _refsByPath = new();
    private readonly ConcurrentDictionary<string, string> _pathsByHash = new();
    private readonly ConcurrentDictionary<Assembly, CodeManifest> _manifestsByRoot = new();
    private readonly ConcurrentDictionary<Assembly, CodeManifest> _manifestsOfOneRoot = new();
    private CodeManifest? _noCode;
    private readonly HashSet<string> _ours;
    private readonly string _sharedFrameworkRoot;
    private readonly Lazy<ProgramDeps?> _program;

    /// <summary>The assembly of the worker role, on every worker.</summary>
    private const string WorkerAssemblyName = "Distributed.Worker";

    /// <summary>The libraries of Distributed a client program references, as its deps.json names them.</summary>
    private static readonly string[] OurLibraries = ["Distributed", "Distributed.Protocol", "Distributed.Data"];

    /// <summary>Prepares the sets of framework and Distributed assemblies.</summary>
    /// <example>
    /// <code>
    /// var shipping = new CodeShipping(); // a pool has one, for the life of its connection
    /// </code>
    /// </example>
    public CodeShipping() : this(ProgramDeps.OfThisProcess) { }

    /// <summary>Ships with the deps.json that <paramref name="program"/> reads (null: static references only).</summary>
    internal CodeShipping(Func<ProgramDeps?> program)
    {
        _program = new Lazy<ProgramDeps?>(program);
        var runtimeDirectory = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        // .../shared/Microsoft.NETCore.App/10.0.x → .../shared: every shared framework (ASP.NET too).
        _sharedFrameworkRoot = Path.GetFullPath(Path.Combine(runtimeDirectory, "..", ".."));
        _ours = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        CollectClosure(typeof(CodeShipping).Assembly, _ours);
        // Every worker runs its own assembly, which this library does not reference (a program that
        // embeds a worker does): never ship it. Its dependencies are in the closure above.
        _ours.Add(WorkerAssemblyName);
    }

    /// <summary>The manifest of the code that <paramref name="types"/> and their references need.</summary>
    /// <example>
    /// <code>
    /// var shipping = new CodeShipping();
    /// CodeManifest manifest = shipping.ManifestFor([typeof(Program)]); // the assemblies Program needs, by content hash
    /// </code>
    /// </example>
    public CodeManifest ManifestFor(IEnumerable<Type> types)
    {
        var roots = new HashSet<Assembly>();
        foreach (var type in types) AddTypeAssemblies(type, roots);
        // Most functions need one assembly of the user's (or none): its merged manifest is made once, not per call.
        if (roots.Count == 0) return _noCode ??= Merged([]);
        if (roots.Count == 1) return _manifestsOfOneRoot.GetOrAdd(roots.First(), root => Merged([root]));
        return Merged(roots);
    }

    /// <summary>One manifest of the code of <paramref name="roots"/>: their manifests merged, each assembly and native file once.</summary>
    private CodeManifest Merged(IReadOnlyCollection<Assembly> roots)
    {
        var assemblies = new Dictionary<string, AssemblyRef>(StringComparer.OrdinalIgnoreCase);
        foreach (var root in roots)
            foreach (var reference in _manifestsByRoot.GetOrAdd(root, BuildManifest).Assemblies)
                assemblies[reference.Name] = reference;
        var natives = new Dictionary<string, NativeLibraryRef>(StringComparer.Ordinal);
        foreach (var root in roots)
            foreach (var native in _manifestsByRoot[root].NativeLibraries)
                natives[native.Hash + "/" + native.Package + "/" + native.RuntimeId + "/" + native.FileName] = native;
        return Manifest(assemblies.Values, natives.Values);
    }

    /// <summary>The types a delegate brings with it: its method's owner, its target's and its signature's.</summary>
    /// <example>
    /// <code>
    /// Func&lt;string, int&gt; parse = int.Parse;
    /// foreach (var type in CodeShipping.TypesOf(parse)) Console.WriteLine(type); // its owner and signature: Int32, String
    /// </code>
    /// </example>
    public static IEnumerable<Type> TypesOf(Delegate function)
    {
        foreach (var inner in function.GetInvocationList())
        {
            if (inner.Method.DeclaringType is { } owner) yield return owner;
            if (inner.Target is { } target) yield return target.GetType();
            yield return inner.Method.ReturnType;
            foreach (var parameter in inner.Method.GetParameters()) yield return parameter.ParameterType;
        }
    }

    /// <summary>The path of a shipped assembly by its hash, to answer a worker's request.</summary>
    /// <example>
    /// <code>
    /// var shipping = new CodeShipping();
    /// var manifest = shipping.ManifestFor([typeof(Program)]);
    /// string? path = shipping.PathOf(manifest.Assemblies[0].Hash); // what a worker that asks for it is sent
    /// </code>
    /// </example>
    public string? PathOf(string hash) => _pathsByHash.TryGetValue(hash, out var path) ? path : null;

    /// <summary>
    /// The assembly a worker's executor asked for by name because no manifest listed it (code loads it
    /// by name or by reflection): <paramref name="name"/> is a simple name, or a satellite's
    /// <c>culture/Name.resources</c>. It is looked for as this process would load it: among the
    /// assemblies loaded here, then the host's list of the program's assemblies (its deps.json), then
    /// the program's folder; a satellite in its culture's folder beside its main assembly, or where the
    /// deps.json puts it. The framework and Distributed are never answered: every worker has its own.
    /// </summary>
    /// <example>
    /// <code>
    /// var (assembly, problem) = new CodeShipping().Resolve("MyPlugin"); // the plugin's file by hash, or why not
    /// </code>
    /// </example>
    public (AssemblyRef? Assembly, string? Problem) Resolve(string name)
    {
        var satellite = SatelliteNames.TrySplit(name, out var culture, out var simpleName);
        if (!satellite && ContentAddress.Problem(new AssemblyRef(name, new string('0', 64))) is { } refused) return (null, refused);
        var owner = satellite ? simpleName[..^".resources".Length] : name;
        if (_ours.Contains(owner))
            return (null, $"{owner} is part of Distributed, which the worker has itself; the client does not ship it.");
        var ownerPath = FileOfAssembly(owner, out var problem);
        if (!satellite)
            return ownerPath is null ? (null, problem) : (DescribeFile(ownerPath, name), null);
        var path = ownerPath is null ? null : Path.Combine(Path.GetDirectoryName(ownerPath)!, culture, simpleName + ".dll");
        if (path is null || !File.Exists(path)) path = SatelliteFromDeps(owner, culture, simpleName);
        return path is null
            ? (null, $"The client program has no {culture} satellite of {owner} ({culture}/{simpleName}.dll is not beside {ownerPath ?? owner} nor in its deps.json).")
            : (DescribeFile(path, name), null);
    }

    private string? FileOfAssembly(string simpleName, out string? problem)
    {
        problem = null;
        foreach (var loaded in AppDomain.CurrentDomain.GetAssemblies())
        {
            if (!string.Equals(loaded.GetName().Name, simpleName, StringComparison.OrdinalIgnoreCase)) continue;
            if (loaded.IsDynamic || string.IsNullOrEmpty(loaded.Location)) continue;
            if (IsUserAssembly(loaded)) return loaded.Location;
            problem = FrameworkProblem(simpleName, loaded.Location);
            return null;
        }
        var fileName = simpleName + ".dll";
        foreach (var candidate in (AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") as string ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            if (!string.Equals(Path.GetFileName(candidate), fileName, StringComparison.OrdinalIgnoreCase) || !File.Exists(candidate)) continue;
            if (!Path.GetFullPath(candidate).StartsWith(_sharedFrameworkRoot, StringComparison.Ordinal)) return candidate;
            problem = FrameworkProblem(simpleName, candidate);
            return null;
        }
        if (_program.Value is { } program && program.Deps.OwnerOf(fileName) is { } library
            && library.RuntimeAssemblies.FirstOrDefault(a => string.Equals(Path.GetFileName(a), fileName, StringComparison.OrdinalIgnoreCase)) is { } asset
            && program.Locate(library, asset, inProgramFolder: true) is { } located)
            return located;
        var besideProgram = Path.Combine(AppContext.BaseDirectory, fileName);
        if (File.Exists(besideProgram)) return besideProgram;
        problem = $"The client program has no assembly {simpleName} either: it is not loaded there, not in its deps.json and not in its folder {AppContext.BaseDirectory}.";
        return null;
    }

    private static string FrameworkProblem(string simpleName, string path) =>
        $"{simpleName} is an assembly of the .NET framework here ({path}); the worker's runtime lacks it (another .NET version?), and the client does not ship the framework.";

    private string? SatelliteFromDeps(string owner, string culture, string simpleName)
    {
        if (_program.Value is not { } program || program.Deps.OwnerOf(owner + ".dll") is not { } library) return null;
        var asset = library.Resources.FirstOrDefault(r => string.Equals(r.Locale, culture, StringComparison.OrdinalIgnoreCase)
            && string.Equals(Path.GetFileName(r.Path), simpleName + ".dll", StringComparison.OrdinalIgnoreCase));
        return asset is null ? null : program.LocateResource(library, asset.Path, culture);
    }

    private CodeManifest BuildManifest(Assembly root)
    {
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var found = new List<Assembly>();
        Walk(root, names, found);
        var assemblies = found.Select(Describe).ToList();
        var natives = new List<NativeLibraryRef>();
        if (_program.Value is { } program)
            AddPackageFiles(program, found.Select(a => a.Location), assemblies, natives);
        return Manifest(assemblies, natives);
    }

    private static CodeManifest Manifest(IEnumerable<AssemblyRef> assemblies, IEnumerable<NativeLibraryRef> natives)
    {
        var sorted = assemblies.OrderBy(a => a.Name, StringComparer.Ordinal).ToList();
        var sortedNatives = natives.OrderBy(n => n.Package, StringComparer.Ordinal).ThenBy(n => n.RuntimeId, StringComparer.Ordinal)
            .ThenBy(n => n.FileName, StringComparer.Ordinal).ToList();
        var text = string.Join('\n', sorted.Select(a => $"{a.Name}:{a.Hash}").Concat(sortedNatives.Select(n => $"{n.Package}/{n.RuntimeId}/{n.FileName}:{n.Hash}")));
        var version = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16];
        return new CodeManifest(version, sorted, sortedNatives.Count == 0 ? null : sortedNatives);
    }

    /// <summary>
    /// Adds what the packages of the <paramref name="walked"/> assemblies need beyond their static
    /// references (see <see cref="DepsFile.PackagesFor"/>): every runtime assembly of those packages,
    /// which the executor loads only when asked for by name, and their native files for every RID
    /// the program has them for. A file the program's folder and the package caches lack is left out.
    /// </summary>
    private void AddPackageFiles(ProgramDeps program, IEnumerable<string> walked, List<AssemblyRef> assemblies, List<NativeLibraryRef> natives)
    {
        var shipped = new HashSet<string>(assemblies.Select(a => a.Name), StringComparer.OrdinalIgnoreCase);
        // Every worker has this library and all it depends on (assemblies it loads only by name too).
        var onEveryWorker = program.Deps.ClosureOf(OurLibraries);
        foreach (var package in program.Deps.PackagesFor(walked.Select(Path.GetFileName)!))
        {
            if (onEveryWorker.Contains(package.Name) || package.RuntimeAssemblies.Any(a => _ours.Contains(Path.GetFileNameWithoutExtension(a)))) continue;
            foreach (var asset in package.RuntimeAssemblies)
            {
                var name = Path.GetFileNameWithoutExtension(asset);
                if (shipped.Contains(name)) continue;
                if (program.Locate(package, asset, inProgramFolder: true) is { } path)
                {
                    assemblies.Add(DescribeFile(path, name));
                    shipped.Add(name);
                }
            }
            // Only loadable libraries: a static archive (browser-wasm's e_sqlite3.a) is for linking, not for a worker.
            foreach (var native in package.Natives.Where(n => NativeLibraryFiles.IsNativeFileName(n.Path)))
                if (program.Locate(package, native.Path, native.InProgramFolder) is { } path)
                {
                    var fileName = Path.GetFileName(path);
                    natives.Add(new NativeLibraryRef(package.Name, native.RuntimeId, fileName, DescribeFile(path, fileName).Hash));
                }
        }
    }

    private void Walk(Assembly assembly, HashSet<string> names, List<Assembly> found)
    {
        var name = assembly.GetName().Name!;
        if (!names.Add(name) || !IsUserAssembly(assembly)) return;
        if (assembly.IsDynamic || string.IsNullOrEmpty(assembly.Location))
            throw new NotSupportedException($"Assembly {assembly.FullName} has no file (it is dynamic or loaded from bytes), so it cannot be shipped to the workers.");
        found.Add(assembly);
        foreach (var reference in assembly.GetReferencedAssemblies())
        {
            if (names.Contains(reference.Name!) || _ours.Contains(reference.Name!)) continue;
            if (TryLoad(reference) is { } referenced) Walk(referenced, names, found);
        }
    }

    private AssemblyRef Describe(Assembly assembly) => DescribeFile(assembly.Location, assembly.GetName().Name!);

    private AssemblyRef DescribeFile(string location, string name) => _refsByPath.GetOrAdd(location, path =>
    {
        var hash = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));
        _pathsByHash[hash] = path;
        return new AssemblyRef(name, hash);
    });

    private bool IsUserAssembly(Assembly assembly) =>
        !_ours.Contains(assembly.GetName().Name!)
        && !(assembly.Location.Length > 0 && Path.GetFullPath(assembly.Location).StartsWith(_sharedFrameworkRoot, StringComparison.Ordinal));

    private void AddTypeAssemblies(Type type, HashSet<Assembly> roots)
    {
        if (type.HasElementType) { AddTypeAssemblies(type.GetElementType()!, roots); return; }
        if (IsUserAssembly(type.Assembly)) roots.Add(type.Assembly);
        if (type.IsGenericType)
            foreach (var argument in type.GetGenericArguments()) AddTypeAssemblies(argument, roots);
    }

    private static void CollectClosure(Assembly assembly, HashSet<string> names)
    {
        if (!names.Add(assembly.GetName().Name!)) return;
        foreach (var reference in assembly.GetReferencedAssemblies())
        {
            if (names.Contains(reference.Name!)) continue;
            if (TryLoad(reference) is { } referenced) CollectClosure(referenced, names);
            else names.Add(reference.Name!);
        }
    }

    private static Assembly? TryLoad(AssemblyName name)
    {
        foreach (var loaded in AppDomain.CurrentDomain.GetAssemblies())
            if (AssemblyName.ReferenceMatchesDefinition(name, loaded.GetName())) return loaded;
        try { return Assembly.Load(name); }
        catch (IOException) { return null; } // referenced but not deployed: code that is never run
        catch (BadImageFormatException) { return null; }
    }
}
