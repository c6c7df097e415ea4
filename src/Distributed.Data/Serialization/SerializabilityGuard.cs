using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.InteropServices;

namespace Distributed.Data.Serialization;

/// <summary>
/// Refuses object graphs holding things that only mean something in this process (handles, streams,
/// threads, tasks, pointers). Hyperion would copy their fields and the receiver would get a broken
/// object, so we fail early with the name of the offending type instead.
/// </summary>
internal static class SerializabilityGuard
{
    private static readonly ConcurrentDictionary<Type, FieldInfo[]> FieldCache = new();

    public static void Check(object root)
    {
        var seen = new HashSet<object>(ReferenceEqualityComparer.Instance);
        var pending = new Stack<object>();
        pending.Push(root);
        while (pending.Count > 0)
        {
            var current = pending.Pop();
            if (!seen.Add(current)) continue;
            var type = current.GetType();
            if (IsProcessBound(type))
                throw new UnserializableValueException(type, "it is bound to this process (a handle, stream, thread, task or pointer)");
            if (type.IsPrimitive || type.IsEnum || current is string || current is Type || current is MemberInfo || current is IProcessLocal) continue;
            if (current is Delegate d)
            {
                foreach (var inner in d.GetInvocationList())
                    if (inner.Target is { } target) pending.Push(target);
                continue;
            }
            if (current is Array array)
            {
                var elementType = type.GetElementType()!;
                if (elementType.IsPrimitive || elementType.IsEnum || elementType == typeof(string)) continue;
                foreach (var item in array)
                    if (item is not null) pending.Push(item);
                continue;
            }
            foreach (var field in FieldsOf(type))
            {
                if (field.FieldType.IsPointer || field.FieldType == typeof(IntPtr) && !IsHarmlessIntPtrOwner(type))
                    throw new UnserializableValueException(type, $"its field {field.Name} is a native pointer");
                if (field.FieldType.IsPrimitive || field.FieldType.IsEnum) continue;
                if (field.GetValue(current) is { } value) pending.Push(value);
            }
        }
    }

    private static bool IsProcessBound(Type type) =>
        typeof(SafeHandle).IsAssignableFrom(type)
        || typeof(MarshalByRefObject).IsAssignableFrom(type) // streams, wait handles, sockets' streams
        || typeof(Thread).IsAssignableFrom(type)
        || typeof(Task).IsAssignableFrom(type)
        || typeof(CancellationTokenSource).IsAssignableFrom(type)
        || typeof(System.Net.Sockets.Socket).IsAssignableFrom(type)
        || type.IsPointer;

    // Framework value types such as RuntimeTypeHandle hold an IntPtr that Hyperion handles by name.
    private static bool IsHarmlessIntPtrOwner(Type type) => type.Assembly == typeof(object).Assembly;

    private static FieldInfo[] FieldsOf(Type type) => FieldCache.GetOrAdd(type, static t =>
    {
        var fields = new List<FieldInfo>();
        for (var current = t; current is not null && current != typeof(object); current = current.BaseType)
            fields.AddRange(current.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly));
        return fields.ToArray();
    });
}
