using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text;
using System.Xml.Linq;

namespace Distributed.Tests.Docs;

/// <summary>
/// Every public member of the client library (the API a program calls) has an XML doc comment with a
/// summary and an example of its use (issue 13): read from Distributed.xml, which the build writes next
/// to Distributed.dll and copies beside the tests.
/// </summary>
public sealed class PublicApiDocsTests
{
    /// <summary>Members a record declares for itself: their documentation is .NET's.</summary>
    private static readonly HashSet<string> RecordGenerated =
        ["Equals", "GetHashCode", "ToString", "PrintMembers", "Deconstruct", "<Clone>$", "EqualityContract", "op_Equality", "op_Inequality"];

    private const BindingFlags Declared =
        BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    [Fact]
    public void Every_public_member_of_the_client_library_has_a_summary_and_an_example()
    {
        var assembly = typeof(Pool).Assembly;
        var docs = LoadDocs(assembly);
        var missing = new List<string>();
        foreach (var (id, needsExample) in PublicApi(assembly))
        {
            // A constructor the compiler declared (a class's without one of its own) has no comment to write.
            if (id.EndsWith(".#ctor", StringComparison.Ordinal) && !docs.ContainsKey(id)) continue;
            docs.TryGetValue(id, out var member);
            var lacks = new List<string>();
            if (member?.Element("summary") is null) lacks.Add("<summary>");
            if (needsExample && member?.Element("example")?.Element("code") is null) lacks.Add("<example><code>");
            if (lacks.Count > 0) missing.Add($"{id}: no {string.Join(" or ", lacks)}");
        }
        Assert.True(missing.Count == 0,
            $"{missing.Count} public members of {assembly.GetName().Name} lack documentation:{Environment.NewLine}{string.Join(Environment.NewLine, missing)}");
    }

    [Fact]
    public void The_check_lists_public_members_by_their_documentation_ids()
    {
        var ids = PublicApi(typeof(Pool).Assembly).Select(m => m.Id).ToHashSet();

        Assert.Contains("T:Distributed.RemoteData`1", ids);
        Assert.Contains("M:Distributed.Pool.#ctor(System.String)", ids);
        Assert.Contains("M:Distributed.Pool.Map``2(System.Func{``0,``1},System.Collections.Generic.IEnumerable{Distributed.RemoteData{``0}},System.Nullable{System.TimeSpan})", ids);
        Assert.Contains("M:Distributed.Pool.Apply``1(System.Delegate,System.Object[])", ids);
        Assert.Contains("P:Distributed.RemoteData`1.Status", ids);
        Assert.Contains("M:Distributed.TaskArgument`1.op_Implicit(`0)~Distributed.TaskArgument{`0}", ids);
        Assert.Contains("F:Distributed.TaskOptions.MaxKeyLength", ids);
        // A record's own members are .NET's, and private ones are no API.
        Assert.DoesNotContain("M:Distributed.TaskOptions.ToString", ids);
        Assert.DoesNotContain(ids, id => id.Contains("Distributed.Client.TaskEncoder", StringComparison.Ordinal));
        Assert.DoesNotContain(ids, id => id.Contains("ReleaseDropped", StringComparison.Ordinal));
    }

    [Fact]
    public void The_check_reads_the_documentation_the_build_wrote()
    {
        var docs = LoadDocs(typeof(Pool).Assembly);

        // documented with an example already: the file is the one compiled from the sources
        Assert.NotNull(docs["T:Distributed.TaskOptions"].Element("example")?.Element("code"));
        // every id listed is one the compiler knows (a wrong id would be reported missing for ever), but
        // for the constructors the compiler declared itself and the members documented by their parent's
        // comment (a positional record's property is in the file only once its parameter has a comment)
        var unknown = PublicApi(typeof(Pool).Assembly).Where(m => m.NeedsExample).Select(m => m.Id)
            .Where(id => !docs.ContainsKey(id) && !id.EndsWith(".#ctor", StringComparison.Ordinal)).ToList();
        Assert.True(unknown.Count == 0, $"Not in Distributed.xml: {string.Join(", ", unknown)}");
    }

    /// <summary>The doc comments by documentation id.</summary>
    private static Dictionary<string, XElement> LoadDocs(Assembly assembly)
    {
        var path = Path.ChangeExtension(assembly.Location, ".xml");
        Assert.True(File.Exists(path), $"The documentation file {path} was not built or copied beside the tests.");
        return XDocument.Load(path).Descendants("member")
            .ToDictionary(m => (string)m.Attribute("name")!, m => m, StringComparer.Ordinal);
    }

    /// <summary>
    /// The documentation id of every public type and of the public and protected members declared on it,
    /// and whether it needs its own example: an enum's values share their type's, and so do a positional
    /// record's properties, whose only comment is their parameter's (the compiler makes it their summary).
    /// </summary>
    private static IEnumerable<(string Id, bool NeedsExample)> PublicApi(Assembly assembly)
    {
        foreach (var type in assembly.GetExportedTypes().OrderBy(t => t.FullName, StringComparer.Ordinal))
        {
            if (type.IsDefined(typeof(CompilerGeneratedAttribute))) continue;
            yield return ("T:" + TypeName(type), true);
            var isRecord = type.GetMethod("<Clone>$", Declared) is not null || type.GetProperty("EqualityContract", Declared) is not null;
            var positional = isRecord
                ? type.GetMethods(Declared).Where(m => m.Name == "Deconstruct").SelectMany(m => m.GetParameters()).Select(p => p.Name!).ToHashSet(StringComparer.Ordinal)
                : [];
            foreach (var member in type.GetMembers(Declared).OrderBy(m => m.MetadataToken))
            {
                if (!IsVisible(member) || member.IsDefined(typeof(CompilerGeneratedAttribute))) continue;
                if (isRecord && RecordGenerated.Contains(member.Name)) continue;
                switch (member)
                {
                    case ConstructorInfo constructor:
                        yield return ($"M:{TypeName(type)}.#ctor{Parameters(constructor.GetParameters())}", true);
                        break;
                    case MethodInfo method when !method.IsSpecialName || method.Name.StartsWith("op_", StringComparison.Ordinal):
                        yield return (MethodId(type, method), true);
                        break;
                    case PropertyInfo property:
                        yield return ($"P:{TypeName(type)}.{property.Name}{Parameters(property.GetIndexParameters())}", !positional.Contains(property.Name));
                        break;
                    case FieldInfo field when !field.IsSpecialName:
                        yield return ($"F:{TypeName(type)}.{field.Name}", !type.IsEnum);
                        break;
                    case EventInfo @event:
                        yield return ($"E:{TypeName(type)}.{@event.Name}", true);
                        break;
                }
            }
        }
    }

    /// <summary>Public or protected: what a caller outside the assembly sees (a property or event by its accessors).</summary>
    private static bool IsVisible(MemberInfo member) => member switch
    {
        MethodBase method => method.IsPublic || method.IsFamily || method.IsFamilyOrAssembly,
        FieldInfo field => field.IsPublic || field.IsFamily || field.IsFamilyOrAssembly,
        PropertyInfo property => property.GetAccessors(nonPublic: true).Any(IsVisible),
        EventInfo @event => @event.AddMethod is { } add && IsVisible(add),
        _ => false,
    };

    private static string MethodId(Type type, MethodInfo method)
    {
        var id = new StringBuilder($"M:{TypeName(type)}.{method.Name.Replace('.', '#')}");
        if (method.IsGenericMethodDefinition) id.Append("``").Append(method.GetGenericArguments().Length);
        id.Append(Parameters(method.GetParameters()));
        if (method.Name is "op_Implicit" or "op_Explicit") id.Append('~').Append(ParameterType(method.ReturnType));
        return id.ToString();
    }

    private static string Parameters(ParameterInfo[] parameters) =>
        parameters.Length == 0 ? "" : $"({string.Join(",", parameters.Select(p => ParameterType(p.ParameterType)))})";

    /// <summary>A type's name in a documentation id of a type: <c>Namespace.Outer.Inner`1</c>.</summary>
    private static string TypeName(Type type) => type.FullName!.Replace('+', '.');

    /// <summary>A type as a documentation id writes a parameter: generic arguments in braces, generic parameters by position.</summary>
    private static string ParameterType(Type type)
    {
        if (type.IsByRef) return ParameterType(type.GetElementType()!) + "@";
        if (type.IsPointer) return ParameterType(type.GetElementType()!) + "*";
        if (type.IsArray)
        {
            var rank = type.GetArrayRank();
            var shape = rank == 1 ? "[]" : $"[{string.Join(",", Enumerable.Repeat("0:", rank))}]";
            return ParameterType(type.GetElementType()!) + shape;
        }
        if (type.IsGenericMethodParameter) return "``" + type.GenericParameterPosition;
        if (type.IsGenericTypeParameter) return "`" + type.GenericParameterPosition;
        if (!type.IsGenericType) return TypeName(type);
        // Outer{A}.Inner{B}: each level of nesting takes its own share of the generic arguments.
        var arguments = type.GetGenericArguments();
        var levels = new List<Type>();
        for (var level = type.GetGenericTypeDefinition(); level is not null; level = level.DeclaringType) levels.Insert(0, level);
        var name = new StringBuilder(levels[0].Namespace is { Length: > 0 } ns ? ns + "." : "");
        var used = 0;
        foreach (var level in levels)
        {
            if (level != levels[0]) name.Append('.');
            var plain = level.Name.Split('`')[0];
            name.Append(plain);
            var count = level.IsGenericType ? level.GetGenericArguments().Length - used : 0;
            if (count > 0)
            {
                name.Append('{').Append(string.Join(",", arguments.Skip(used).Take(count).Select(ParameterType))).Append('}');
                used += count;
            }
        }
        return name.ToString();
    }
}
