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
    private readonly HashSet<string> _ours;
    private readonly string _sharedFrameworkRoot;

    /// <summary>The assembly of the worker role, on every worker.</summary>
    private const string WorkerAssemblyName = "Distributed.Worker";

    /// <summary>Prepares the sets of framework and Distributed assemblies.</summary>
    /// <example>
    /// <code>
    /// var shipping = new CodeShipping(); // a pool has one, for the life of its connection
    /// </code>
    /// </example>
    public CodeShipping()
    {
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
        var assemblies = new Dictionary<string, AssemblyRef>(StringComparer.OrdinalIgnoreCase);
        foreach (var root in roots)
            foreach (var reference in _manifestsByRoot.GetOrAdd(root, BuildManifest).Assemblies)
                assemblies[reference.Name] = reference;
        return Manifest(assemblies.Values);
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

    private CodeManifest BuildManifest(Assembly root)
    {
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var found = new List<Assembly>();
        Walk(root, names, found);
        return Manifest(found.Select(Describe));
    }

    private static CodeManifest Manifest(IEnumerable<AssemblyRef> assemblies)
    {
        var sorted = assemblies.OrderBy(a => a.Name, StringComparer.Ordinal).ToList();
        var text = string.Join('\n', sorted.Select(a => $"{a.Name}:{a.Hash}"));
        var version = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16];
        return new CodeManifest(version, sorted);
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

    private AssemblyRef Describe(Assembly assembly) => _refsByPath.GetOrAdd(assembly.Location, path =>
    {
        var hash = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));
        _pathsByHash[hash] = path;
        return new AssemblyRef(assembly.GetName().Name!, hash);
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
