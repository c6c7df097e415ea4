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
        ["Distributed.Terminal"] = ["Distributed.Protocol", "Distributed.Data", "Distributed"],
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

    [Theory]
    [InlineData("Distributed.Center", "Distributed.Center.Core")]
    [InlineData("Distributed.Worker", "Distributed.Worker.Core")]
    public void The_cores_use_no_akka_type(string assemblyName, string coreNamespace)
    {
        var akka = typeof(Akka.Actor.ActorSystem).Assembly.GetName().Name!;
        var types = Assembly.Load(assemblyName).GetTypes().Where(t => t.Namespace == coreNamespace).ToList();
        Assert.NotEmpty(types);
        foreach (var type in types)
        {
            const BindingFlags Everything = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
            var used = new List<Type>();
            if (type.BaseType is { } baseType) used.Add(baseType);
            used.AddRange(type.GetInterfaces());
            used.AddRange(type.GetFields(Everything).Select(f => f.FieldType));
            used.AddRange(type.GetProperties(Everything).Select(p => p.PropertyType));
            foreach (var method in type.GetMethods(Everything).Cast<MethodBase>().Concat(type.GetConstructors(Everything)))
            {
                if (method is MethodInfo info) used.Add(info.ReturnType);
                used.AddRange(method.GetParameters().Select(p => p.ParameterType));
                used.AddRange(method.GetMethodBody()?.LocalVariables.Select(l => l.LocalType) ?? []);
            }
            var fromAkka = used.SelectMany(Flatten).Where(t => t.Assembly.GetName().Name!.StartsWith(akka, StringComparison.Ordinal)).Select(t => t.FullName).Distinct().ToList();
            Assert.True(fromAkka.Count == 0, $"{type.FullName} uses {string.Join(", ", fromAkka)}: the core must stay free of Akka.");
        }
    }

    /// <summary>A type with its element and generic argument types.</summary>
    private static IEnumerable<Type> Flatten(Type type)
    {
        yield return type;
        if (type.HasElementType)
            foreach (var inner in Flatten(type.GetElementType()!)) yield return inner;
        if (type.IsGenericType)
            foreach (var argument in type.GetGenericArguments())
                foreach (var inner in Flatten(argument)) yield return inner;
    }

    /// <summary>Types the compiler and source generators add (embedded attributes, regex runners), not ours to place.</summary>
    private static bool IsCompilerGenerated(Type type) =>
        type.Namespace!.StartsWith("System.", StringComparison.Ordinal) || type.Namespace.StartsWith("Microsoft.", StringComparison.Ordinal)
        || type.Name.StartsWith('<');
}
