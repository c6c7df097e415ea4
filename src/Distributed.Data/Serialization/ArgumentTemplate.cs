using System.Collections;

namespace Distributed.Data.Serialization;

/// <summary>Stands in an argument template for the value of the task's dependency number <see cref="Index"/>.</summary>
public sealed record DependencyPlaceholder(int Index);

/// <summary>Stands in an argument template for a list whose items may be placeholders; it becomes an array of <see cref="ElementTypeName"/>.</summary>
public sealed record ListPlaceholder(string ElementTypeName, object?[] Items);

/// <summary>Stands in an argument template for a task run inline (a nested task of a graph): its function applied to its resolved arguments.</summary>
public sealed record InlineTaskPlaceholder(Delegate Function, object?[] Arguments);

/// <summary>Replaces placeholders with values, and converts arrays to the parameter types a delegate declares.</summary>
public static class TemplateConversion
{
    /// <summary>Resolves the placeholders of <paramref name="template"/> with the dependency values.</summary>
    public static object? Resolve(object? template, IReadOnlyList<object?> dependencies) => template switch
    {
        DependencyPlaceholder p => dependencies[p.Index],
        ListPlaceholder list => ResolveList(list, dependencies),
        InlineTaskPlaceholder task => new DynamicFunction(task.Function).Invoke(task.Arguments.Select(a => Resolve(a, dependencies)).ToArray()),
        _ => template,
    };

    private static Array ResolveList(ListPlaceholder list, IReadOnlyList<object?> dependencies)
    {
        var elementType = Type.GetType(list.ElementTypeName, throwOnError: true)!;
        var array = Array.CreateInstance(elementType, list.Items.Length);
        for (var i = 0; i < list.Items.Length; i++)
            array.SetValue(ConvertTo(Resolve(list.Items[i], dependencies), elementType), i);
        return array;
    }

    /// <summary>Converts an array to a <c>List&lt;T&gt;</c> when that is what the target type wants.</summary>
    public static object? ConvertTo(object? value, Type target)
    {
        if (value is null || target.IsInstanceOfType(value)) return value;
        if (value is Array array && target.IsGenericType && target.GetGenericTypeDefinition() == typeof(List<>))
        {
            var list = (IList)Activator.CreateInstance(target, array.Length)!;
            var elementType = target.GetGenericArguments()[0];
            foreach (var item in array) list.Add(ConvertTo(item, elementType));
            return list;
        }
        // IEnumerable<T>, IReadOnlyList<T> and the like: an array of T is one.
        if (value is Array items && target.IsInterface && target.IsGenericType && target.GetGenericArguments() is [var itemType]
            && itemType.MakeArrayType() is var arrayType && target.IsAssignableFrom(arrayType))
            return ConvertTo(items, arrayType);
        if (value is Array source && target.IsArray && target.GetElementType() is { } targetElement)
        {
            var converted = Array.CreateInstance(targetElement, source.Length);
            for (var i = 0; i < source.Length; i++) converted.SetValue(ConvertTo(source.GetValue(i), targetElement), i);
            return converted;
        }
        return value;
    }
}
