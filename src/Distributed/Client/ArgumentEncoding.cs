using System.Collections;
using Distributed.Data.Serialization;

namespace Distributed.Client;

/// <summary>
/// Turns <c>Apply</c>'s arguments into a template: every <see cref="IRemoteData"/>, also inside
/// lists and arrays (nested too), becomes a placeholder naming a dependency, so the task runs after
/// those values exist and receives the values themselves.
/// </summary>
internal static class ArgumentEncoding
{
    public static object? Templatize(object? argument, List<string> dependencies, out Type valueType)
    {
        switch (argument)
        {
            case IRemoteData remote:
                valueType = remote.ValueType;
                return new DependencyPlaceholder(IndexOf(remote.Key, dependencies));
            case string or null:
                valueType = argument?.GetType() ?? typeof(object);
                return argument;
            case IEnumerable items when ContainsRemote(items):
                {
                    var templates = new List<object?>();
                    Type? elementType = null;
                    foreach (var item in items)
                    {
                        templates.Add(Templatize(item, dependencies, out var itemType));
                        elementType = elementType is null || elementType == itemType ? itemType : typeof(object);
                    }
                    elementType ??= typeof(object);
                    valueType = elementType.MakeArrayType();
                    return new ListPlaceholder(elementType.AssemblyQualifiedName!, templates.ToArray());
                }
            default:
                valueType = argument.GetType();
                return argument;
        }
    }

    private static bool ContainsRemote(IEnumerable items)
    {
        foreach (var item in items)
            if (item is IRemoteData || item is IEnumerable inner and not string && ContainsRemote(inner)) return true;
        return false;
    }

    private static int IndexOf(string key, List<string> dependencies)
    {
        var index = dependencies.IndexOf(key);
        if (index >= 0) return index;
        dependencies.Add(key);
        return dependencies.Count - 1;
    }
}
