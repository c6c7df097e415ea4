using System.Reflection;
using System.Text.Json;

namespace Distributed.Tests;

/// <summary>
/// The assemblies reference each other only downward (protocol, then data, then the roles), the
/// center program carries no values or collections, and every type's namespace starts with its
/// assembly's name, so a newcomer finds a type from its namespace.
/// </summary>
public sealed class AssemblyLayeringTests
{
    /// <summary>Each of our assemblies, with the only assemblies of ours it may reference.</summary>
    private static readonly Dictionary<string, string[]> AllowedReferences = new()
    {
        ["Distributed.Protocol"] = [],
        ["Distributed.Data"] = ["Distributed.Protocol"],
        ["Distributed.Center"] = ["Distributed.Protocol"],
        ["Distributed.Worker"] = ["Distributed.Protocol", "Distributed.Data"],
        ["Distributed"] = ["Distributed.Protocol", "Distributed.Data"],
        ["dcenter"] = ["Distributed.Protocol", "Distributed.Center"],
        ["dworker"] = ["Distributed.Protocol", "Distributed.Data", "Distributed.Worker", "Distributed"],
    };

    /// <summary>Libraries that only workers and clients need: the center program must not carry them.</summary>
    private static readonly string[] NotInTheCenter =
        ["Distributed.Data", "Distributed", "Distributed.Worker", "Microsoft.Data.Analysis", "System.Numerics.Tensors", "Sep", "Apache.Arrow"];

    private static bool IsOurs(string name) => AllowedReferences.ContainsKey(name);

    [Fact]
    public void Our_assemblies_reference_only_the_layers_below_them()
    {
        foreach (var (name, allowed) in AllowedReferences)
        {
            var assembly = Assembly.Load(name);
            var ours = assembly.GetReferencedAssemblies().Select(r => r.Name!).Where(IsOurs).ToList();
            var wrongWay = ours.Except(allowed).ToList();
            Assert.True(wrongWay.Count == 0, $"{name} references {string.Join(", ", wrongWay)}, which it must not (allowed: {string.Join(", ", allowed)}).");
        }
    }

    [Fact]
    public void The_center_program_depends_on_neither_values_nor_collections()
    {
        var depsFile = Path.Combine(AppContext.BaseDirectory, "dcenter.deps.json");
        using var deps = JsonDocument.Parse(File.ReadAllText(depsFile));
        var libraries = deps.RootElement.GetProperty("libraries").EnumerateObject()
            .Select(library => library.Name.Split('/')[0]).ToList();

        Assert.Contains("Distributed.Center", libraries);
        Assert.Contains("Distributed.Protocol", libraries);
        foreach (var forbidden in NotInTheCenter)
            Assert.DoesNotContain(forbidden, libraries);
    }

    [Fact]
    public void Every_namespace_starts_with_its_assembly_name_and_no_other_assembly_of_ours_uses_it()
    {
        var lowerLayers = AllowedReferences.Keys.Where(n => n != "Distributed" && n.StartsWith("Distributed.", StringComparison.Ordinal)).ToList();
        foreach (var name in AllowedReferences.Keys.Where(n => n.StartsWith("Distributed", StringComparison.Ordinal)))
        {
            foreach (var type in Assembly.Load(name).GetTypes().Where(t => t.Namespace is not null && !IsCompilerGenerated(t)))
            {
                var ns = type.Namespace!;
                Assert.True(ns == name || ns.StartsWith(name + ".", StringComparison.Ordinal),
                    $"{type.FullName} in {name} is in namespace {ns}, which does not start with its assembly's name.");
                if (name == "Distributed")
                    Assert.False(lowerLayers.Any(l => ns == l || ns.StartsWith(l + ".", StringComparison.Ordinal)),
                        $"{type.FullName} in the client library uses the namespace of another assembly.");
            }
        }
    }

    /// <summary>Types the compiler and source generators add (embedded attributes, regex runners), not ours to place.</summary>
    private static bool IsCompilerGenerated(Type type) =>
        type.Namespace!.StartsWith("System.", StringComparison.Ordinal) || type.Namespace.StartsWith("Microsoft.", StringComparison.Ordinal)
        || type.Name.StartsWith('<');
}
