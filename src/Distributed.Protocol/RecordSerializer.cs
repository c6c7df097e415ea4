using System.Collections;
using System.Collections.Concurrent;
using System.Reflection;
using System.Text;
using Akka.Actor;
using Akka.Serialization;

namespace Distributed.Protocol;

/// <summary>
/// The protocol messages that <see cref="ProtocolSerializer"/> does not write by hand, written field by
/// field from their records' shapes: the manifest is the message's name, looked up among our own
/// <see cref="IProtocolMessage"/> records (nothing else can be named), and each constructor parameter is
/// written by its declared type (strings, numbers, byte arrays, actor references, lists and string-keyed
/// dictionaries of those, and the protocol's records). Decoding reads the same shape through a
/// <see cref="WireReader"/>, so every count and length is bounded before it is allocated; no type name
/// ever comes from the wire, unlike a reflective serializer such as Hyperion, which allocates whatever
/// length a frame claims and instantiates the types it names.
/// </summary>
public sealed class RecordSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    private const int MaxDepth = 8;

    private static readonly Dictionary<string, Type> Messages = typeof(IProtocolMessage).Assembly.GetTypes()
        .Where(t => typeof(IProtocolMessage).IsAssignableFrom(t) && t is { IsClass: true, IsAbstract: false })
        .ToDictionary(t => t.Name, StringComparer.Ordinal);

    private static readonly ConcurrentDictionary<Type, Shape> Shapes = new();

    private readonly WireLimits _limits = WireLimits.From(system.Settings.Config);
    private readonly ConcurrentDictionary<string, IActorRef> _resolved = new();

    /// <inheritdoc />
    public override int Identifier => 7_872;

    /// <inheritdoc />
    public override string Manifest(object o) =>
        o is IProtocolMessage && Messages.TryGetValue(o.GetType().Name, out var type) && type == o.GetType()
            ? type.Name
            : throw new ArgumentException($"{o.GetType()} is not a protocol message serialized by {nameof(RecordSerializer)}.");

    /// <inheritdoc />
    public override byte[] ToBinary(object obj)
    {
        Manifest(obj);
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true)) WriteRecord(writer, obj, 0);
        return stream.ToArray();
    }

    /// <inheritdoc />
    public override object FromBinary(byte[] bytes, string manifest)
    {
        if (!Messages.TryGetValue(manifest, out var type))
            throw new WireFormatException($"'{(manifest.Length <= 40 ? manifest : manifest[..40] + "...")}' names no protocol message; the frame was dropped.");
        try
        {
            var reader = new WireReader(new MemoryStream(bytes, writable: false), _limits);
            var message = ReadRecord(reader, type, 0);
            reader.ExpectEnd(manifest);
            return message;
        }
        catch (WireFormatException)
        {
            throw;
        }
        catch (Exception e)
        {
            throw new WireFormatException($"A {manifest} frame ({bytes.Length} bytes) does not decode: {e.Message}", e);
        }
    }

    private void WriteRecord(BinaryWriter writer, object record, int depth)
    {
        var shape = ShapeOf(record.GetType());
        foreach (var field in shape.Fields) WriteValue(writer, field.Type, field.Property.GetValue(record), depth + 1);
    }

    private object ReadRecord(WireReader reader, Type type, int depth)
    {
        if (depth > MaxDepth) throw new WireFormatException($"{type.Name} is nested deeper than {MaxDepth}.");
        var shape = ShapeOf(type);
        var arguments = new object?[shape.Fields.Count];
        for (var i = 0; i < arguments.Length; i++) arguments[i] = ReadValue(reader, shape.Fields[i].Type, shape.Fields[i].Property.Name, depth + 1);
        return shape.Constructor.Invoke(arguments);
    }

    private void WriteValue(BinaryWriter writer, Type type, object? value, int depth)
    {
        if (!type.IsValueType || Nullable.GetUnderlyingType(type) is not null)
        {
            writer.Write(value is not null);
            if (value is null) return;
            type = Nullable.GetUnderlyingType(type) ?? type;
        }
        switch (value)
        {
            case string text: writer.Write(text); return;
            case bool flag: writer.Write(flag); return;
            case int number: writer.Write(number); return;
            case long number: writer.Write(number); return;
            case double number: writer.Write(number); return;
            case byte[] bytes:
                writer.Write7BitEncodedInt(bytes.Length);
                writer.Write(bytes);
                return;
            case IActorRef actor: writer.Write(Akka.Serialization.Serialization.SerializedActorPath(actor)); return;
            case Enum: writer.Write(Convert.ToInt32(value)); return;
        }
        if (DictionaryValueType(type) is { } valueType)
        {
            var entries = ((IEnumerable)value!).Cast<object>().ToList();
            writer.Write(entries.Count);
            foreach (var entry in entries)
            {
                var entryType = entry.GetType();
                writer.Write((string)entryType.GetProperty("Key")!.GetValue(entry)!);
                WriteValue(writer, valueType, entryType.GetProperty("Value")!.GetValue(entry), depth + 1);
            }
            return;
        }
        if (ListItemType(type) is { } itemType)
        {
            var items = ((IEnumerable)value!).Cast<object?>().ToList();
            writer.Write(items.Count);
            foreach (var item in items) WriteValue(writer, itemType, item, depth + 1);
            return;
        }
        if (IsRecord(type))
        {
            WriteRecord(writer, value!, depth);
            return;
        }
        throw new NotSupportedException($"{type} cannot be written by {nameof(RecordSerializer)}; give the field a supported type or a hand-written format.");
    }

    private object? ReadValue(WireReader reader, Type type, string what, int depth)
    {
        if (!type.IsValueType || Nullable.GetUnderlyingType(type) is not null)
        {
            if (!reader.ReadBoolean($"whether {what} is present")) return null;
            type = Nullable.GetUnderlyingType(type) ?? type;
        }
        if (type == typeof(string)) return reader.ReadString(what);
        if (type == typeof(bool)) return reader.ReadBoolean(what);
        if (type == typeof(int)) return reader.ReadInt32(what);
        if (type == typeof(long)) return reader.ReadInt64(what);
        if (type == typeof(double)) return BitConverter.Int64BitsToDouble(reader.ReadInt64(what));
        if (type == typeof(byte[])) return reader.Read7BitBytes(what);
        if (type == typeof(IActorRef)) return ResolveRef(reader.ReadString(what));
        if (type.IsEnum)
        {
            var number = reader.ReadInt32(what);
            var value = Enum.ToObject(type, number);
            return Enum.IsDefined(type, value) ? value : throw new WireFormatException($"{what} is {number}, not a {type.Name}.");
        }
        if (DictionaryValueType(type) is { } valueType)
        {
            var count = reader.ReadCount(what, minItemBytes: 2);
            var dictionary = (IDictionary)Activator.CreateInstance(typeof(Dictionary<,>).MakeGenericType(typeof(string), valueType), WireReader.InitialCapacity(count))!;
            for (var i = 0; i < count; i++)
            {
                var key = reader.ReadString($"a key of {what}");
                dictionary[key] = ReadValue(reader, valueType, $"a value of {what}", depth + 1);
            }
            return dictionary;
        }
        if (ListItemType(type) is { } itemType)
        {
            var count = reader.ReadCount(what);
            var items = Array.CreateInstance(itemType, count);
            for (var i = 0; i < count; i++) items.SetValue(ReadValue(reader, itemType, $"an item of {what}", depth + 1), i);
            return items;
        }
        if (IsRecord(type)) return ReadRecord(reader, type, depth);
        throw new WireFormatException($"{what} has a type ({type.Name}) that {nameof(RecordSerializer)} does not read.");
    }

    private IActorRef ResolveRef(string path)
    {
        if (_resolved.TryGetValue(path, out var actor)) return actor;
        actor = system.Provider.ResolveActorRef(path);
        if (_resolved.Count > 10_000) _resolved.Clear();
        _resolved[path] = actor;
        return actor;
    }

    private static bool IsRecord(Type type) =>
        type.Assembly == typeof(IProtocolMessage).Assembly && type.Namespace == typeof(IProtocolMessage).Namespace && type.IsClass;

    private static Type? ListItemType(Type type)
    {
        if (type.IsArray) return type.GetElementType();
        if (!type.IsGenericType) return null;
        var definition = type.GetGenericTypeDefinition();
        return definition == typeof(IReadOnlyList<>) || definition == typeof(IReadOnlyCollection<>) || definition == typeof(IEnumerable<>)
            || definition == typeof(List<>) || definition == typeof(IList<>)
            ? type.GetGenericArguments()[0]
            : null;
    }

    private static Type? DictionaryValueType(Type type)
    {
        if (!type.IsGenericType) return null;
        var definition = type.GetGenericTypeDefinition();
        var arguments = type.GetGenericArguments();
        return (definition == typeof(IReadOnlyDictionary<,>) || definition == typeof(Dictionary<,>) || definition == typeof(IDictionary<,>))
               && arguments[0] == typeof(string)
            ? arguments[1]
            : null;
    }

    private static Shape ShapeOf(Type type) => Shapes.GetOrAdd(type, static t =>
    {
        // A record's primary constructor: the public one with the most parameters, each matching a property.
        var constructor = t.GetConstructors().OrderByDescending(c => c.GetParameters().Length).First();
        var fields = constructor.GetParameters()
            .Select(p => new Field(p.ParameterType, t.GetProperty(p.Name!, BindingFlags.Public | BindingFlags.Instance)
                ?? throw new NotSupportedException($"{t.Name}'s parameter {p.Name} has no property of that name.")))
            .ToList();
        return new Shape(constructor, fields);
    });

    private sealed record Field(Type Type, PropertyInfo Property);

    private sealed record Shape(ConstructorInfo Constructor, IReadOnlyList<Field> Fields);
}
