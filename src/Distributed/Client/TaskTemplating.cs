using System.Collections;
using Distributed.Dask;
using Distributed.Protocol;
using Distributed.Data.Serialization;

namespace Distributed.Client;

/// <summary>
/// The one path from a task's arguments to the <see cref="TaskSpec"/> that carries them, for Map, Apply
/// and graphs alike. A remote value (and a graph's task key) becomes a dependency, a list that holds
/// one and a graph's inline task become placeholders, the task travels in the cheapest
/// <see cref="ArgumentsKind"/> that says the same, and the types whose code the workers need are
/// collected in <see cref="Types"/>. One per submission: its types are the submission's.
/// </summary>
/// <remarks>
/// Apply's arguments come as the caller wrote them: any list holding a remote value is walked. A
/// graph's come normalized: its lists to walk are marked (<see cref="ListArgument"/>) and become
/// <c>object?[]</c> as on the local scheduler, its keys are <see cref="KeyRef"/>s and its nested tasks
/// <see cref="TaskNode"/>s; every other value of a graph is a literal, never walked.
/// </remarks>
internal sealed class TaskTemplating
{
    private static readonly string ObjectTypeName = typeof(object).AssemblyQualifiedName!;

    private readonly TaskEncoder _encoder;
    private readonly NormalizedGraph? _graph;
    private readonly Func<string, string>? _clusterKey;
    /// <summary>The dependencies of the task being templated, made only when it has one.</summary>
    private List<string>? _dependencies;

    /// <summary>Templating of Map's and Apply's arguments.</summary>
    public TaskTemplating(TaskEncoder encoder) => _encoder = encoder;

    /// <summary>Templating of the tasks of <paramref name="graph"/>, whose task keys are <paramref name="clusterKey"/> on the cluster.</summary>
    public TaskTemplating(TaskEncoder encoder, NormalizedGraph graph, Func<string, string> clusterKey)
    {
        _encoder = encoder;
        _graph = graph;
        _clusterKey = clusterKey;
    }

    /// <summary>The types of the functions and values templated so far: their code must be on the workers.</summary>
    public HashSet<Type> Types { get; } = [];

    /// <summary>Notes the code a delegate needs (a task's function, or one passed as an argument).</summary>
    public Delegate Track(Delegate function)
    {
        Types.UnionWith(CodeShipping.TypesOf(function));
        return function;
    }

    /// <summary>The templates of a task's arguments; finish the task with <see cref="Task"/>.</summary>
    public object?[] Template(IReadOnlyList<object?> arguments)
    {
        var templates = new object?[arguments.Count];
        for (var i = 0; i < templates.Length; i++) templates[i] = Template(arguments[i], out _);
        return templates;
    }

    /// <summary>What travels in place of <paramref name="argument"/>; <paramref name="valueType"/> is the type the task receives.</summary>
    private object? Template(object? argument, out Type valueType)
    {
        switch (argument)
        {
            case IRemoteData remote:
                valueType = remote.ValueType;
                Types.Add(valueType);
                return Dependency(remote.Key);
            case KeyRef reference when _graph is not null:
                if (_graph.Nodes[reference.Key] is TaskNode)
                {
                    valueType = typeof(object);
                    return Dependency(_clusterKey!(reference.Key));
                }
                // a remote value stays where it is; a literal travels inside the tasks that use it
                return Template(_graph.Nodes[reference.Key], out valueType);
            case TaskNode inner when _graph is not null:
                valueType = typeof(object);
                return new InlineTaskPlaceholder(Track(inner.Function), Template(inner.Arguments));
            case ListArgument list:
                valueType = typeof(object[]);
                return new ListPlaceholder(ObjectTypeName, Template(list.Items));
            case Delegate function:
                // A delegate passed as an argument needs its code on the workers as much as the task's function does.
                valueType = function.GetType();
                return Track(function);
            case null:
                valueType = typeof(object);
                return null;
            case IEnumerable items when _graph is null && argument is not string && HoldsRemote(items):
                return ListOf(items, out valueType);
            default:
                valueType = argument.GetType();
                Types.Add(valueType);
                return argument;
        }
    }

    /// <summary>A list of Apply's that holds remote values: an array of its items' common type, placeholders resolved.</summary>
    private ListPlaceholder ListOf(IEnumerable items, out Type valueType)
    {
        var templates = new List<object?>();
        Type? elementType = null;
        foreach (var item in items)
        {
            templates.Add(Template(item, out var itemType));
            elementType = elementType is null || elementType == itemType ? itemType : typeof(object);
        }
        elementType ??= typeof(object);
        valueType = elementType.MakeArrayType();
        Types.Add(valueType);
        return new ListPlaceholder(elementType.AssemblyQualifiedName!, templates.ToArray());
    }

    /// <summary>Whether a list holds a remote value, also in a nested list; a list of numbers or text cannot, and is not read.</summary>
    private static bool HoldsRemote(IEnumerable items)
    {
        if (ElementTypeOf(items.GetType()) is { } element && CannotBeOrHoldRemote(element)) return false;
        foreach (var item in items)
            if (item is IRemoteData || item is IEnumerable inner and not string && HoldsRemote(inner)) return true;
        return false;
    }

    private static Type? ElementTypeOf(Type listType)
    {
        if (listType.IsArray) return listType.GetElementType();
        Type? element = null;
        foreach (var contract in listType.GetInterfaces())
        {
            if (!contract.IsGenericType || contract.GetGenericTypeDefinition() != typeof(IEnumerable<>)) continue;
            if (element is not null) return null; // enumerable as two types: which one it yields is not known
            element = contract.GetGenericArguments()[0];
        }
        return element;
    }

    private static bool CannotBeOrHoldRemote(Type element) =>
        element == typeof(string)
        || element.IsValueType && !typeof(IRemoteData).IsAssignableFrom(element) && !typeof(IEnumerable).IsAssignableFrom(element);

    private DependencyPlaceholder Dependency(string key)
    {
        _dependencies ??= [];
        var at = _dependencies.IndexOf(key);
        if (at < 0)
        {
            _dependencies.Add(key);
            at = _dependencies.Count - 1;
        }
        return new DependencyPlaceholder(at);
    }

    /// <summary>
    /// The task that calls <paramref name="function"/> on <paramref name="template"/>, the templates of
    /// its arguments made since the last task: arguments that are exactly its dependencies in order
    /// travel as nothing, a single plain value as itself, anything else as the template.
    /// <paramref name="name"/> is the task's name in errors when it is not <paramref name="key"/> (a graph's own key).
    /// </summary>
    public TaskSpec Task(string key, FunctionSpec function, object?[] template, long priority = -1, long timeoutMs = 0, string? name = null)
    {
        IReadOnlyList<string> dependencies = _dependencies ?? (IReadOnlyList<string>)Array.Empty<string>();
        _dependencies = null;
        var (kind, arguments) = template switch
        {
            _ when IsDependenciesInOrder(template, dependencies.Count) => (ArgumentsKind.Dependencies, Array.Empty<byte>()),
            [var single] when dependencies.Count == 0 && single is not (ListPlaceholder or InlineTaskPlaceholder)
                => (ArgumentsKind.SingleValue, _encoder.EncodeArgument(single, name ?? key)),
            _ => (ArgumentsKind.Template, _encoder.EncodeArgument(template, name ?? key)),
        };
        return new TaskSpec(key, function.FunctionId, kind, arguments, dependencies, Priority: priority, TimeoutMs: timeoutMs);
    }

    private static bool IsDependenciesInOrder(object?[] template, int dependencies)
    {
        if (template.Length != dependencies) return false;
        for (var i = 0; i < template.Length; i++)
            if (template[i] is not DependencyPlaceholder { Index: var index } || index != i) return false;
        return true;
    }

    /// <summary>
    /// What <see cref="Task"/> makes of a single plain value, taken as it is (Map's items are never
    /// walked), without a template: the per-item path of a Map.
    /// </summary>
    public TaskSpec TaskOnValue<T>(string key, FunctionSpec function, T value, long timeoutMs)
    {
        if (RuntimeTypeVaries<T>.Value && value is not null) Types.Add(value.GetType());
        return new TaskSpec(key, function.FunctionId, ArgumentsKind.SingleValue, _encoder.EncodeArgument(value, key), [], TimeoutMs: timeoutMs);
    }

    /// <summary>
    /// What <see cref="Task"/> makes of arguments that are all remote values, in order, without a
    /// template: the per-item path of a Map over remote values. The caller notes the values' type.
    /// </summary>
    public static TaskSpec TaskOnRemote(string key, FunctionSpec function, IReadOnlyList<string> dependencies, long timeoutMs) =>
        new(key, function.FunctionId, ArgumentsKind.Dependencies, [], dependencies, TimeoutMs: timeoutMs);

    /// <summary>Whether a value declared <typeparamref name="T"/> may be of a type of its own (whose code the workers then need too); decided once per type.</summary>
    private static class RuntimeTypeVaries<T>
    {
        public static readonly bool Value = !(typeof(T).IsSealed || typeof(T).IsValueType);
    }
}
