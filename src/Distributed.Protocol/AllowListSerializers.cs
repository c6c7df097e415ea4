using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Configuration;
using Akka.Serialization;
using Akka.Util;
using ITypeFilter = Hyperion.ITypeFilter;
using Serializer = Akka.Serialization.Serializer;

namespace Distributed.Protocol;

/// <summary>
/// Hyperion for our protocol messages, with a type allow-list: a frame from the network may name any
/// type, and a reflective serializer would instantiate it. Only the types our messages are made of
/// decode (<see cref="ProtocolTypeFilter"/>); any other frame fails as a <see cref="WireFormatException"/>,
/// which Akka.Remote logs and drops. Bound in HOCON in place of Akka's own Hyperion serializer.
/// </summary>
public sealed class AllowListHyperionSerializer : Serializer
{
    private readonly HyperionSerializer _inner;

    /// <summary>Created by Akka from HOCON.</summary>
    public AllowListHyperionSerializer(ExtendedActorSystem system) : this(system, system.Settings.Config.GetConfig("akka.actor.serialization-settings.hyperion"))
    {
    }

    /// <summary>Created by Akka from HOCON, with the serializer's settings section.</summary>
    public AllowListHyperionSerializer(ExtendedActorSystem system, Config? config) : base(system)
    {
        var settings = HyperionSerializerSettings.Create(config ?? Config.Empty);
        // The type filter is consulted only when unsafe types are disallowed, so that stays on whatever the HOCON says.
        _inner = new HyperionSerializer(system, new HyperionSerializerSettings(settings.PreserveObjectReferences, settings.VersionTolerance,
            settings.KnownTypesProvider, settings.PackageNameOverrides, settings.Surrogates, disallowUnsafeType: true, ProtocolTypeFilter.Instance));
    }

    /// <summary>An identifier of our own: nothing in a cluster answers to Hyperion's (-5), so no frame reaches an unfiltered Hyperion.</summary>
    public override int Identifier => 7_871;

    /// <inheritdoc />
    public override bool IncludeManifest => _inner.IncludeManifest;

    /// <inheritdoc />
    public override byte[] ToBinary(object obj)
    {
        if (obj is not IProtocolMessage)
            throw new SerializationException($"{obj.GetType()} is not a protocol message; only {nameof(IProtocolMessage)}s are serialized by {nameof(AllowListHyperionSerializer)}.");
        return _inner.ToBinary(obj);
    }

    /// <inheritdoc />
    public override object FromBinary(byte[] bytes, Type? type)
    {
        object message;
        try
        {
            message = _inner.FromBinary(bytes, type);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new WireFormatException($"A protocol message ({bytes.Length} bytes) does not decode: {Innermost(e)}", e);
        }
        return message as IProtocolMessage
            ?? throw new WireFormatException($"A frame for {nameof(AllowListHyperionSerializer)} decoded to {message?.GetType().ToString() ?? "null"}, which is not a protocol message.");
    }

    private static string Innermost(Exception e)
    {
        while (e.InnerException is not null) e = e.InnerException;
        return e.Message;
    }
}

/// <summary>
/// The types a protocol message may contain, checked by name before Hyperion loads anything: our
/// protocol's records and enums, strings and primitives, arrays and the usual collections of those,
/// and Akka's surrogates of actor references. A name is resolved only among assemblies already loaded,
/// and every part of it (each generic argument, each array's element) must be allowed.
/// </summary>
public sealed class ProtocolTypeFilter : ITypeFilter
{
    /// <summary>The only instance.</summary>
    public static ProtocolTypeFilter Instance { get; } = new();

    private static readonly Assembly ProtocolAssembly = typeof(IProtocolMessage).Assembly;

    private static readonly HashSet<Type> AllowedGenericDefinitions =
    [
        typeof(List<>), typeof(Dictionary<,>), typeof(KeyValuePair<,>), typeof(HashSet<>),
        typeof(System.Collections.ObjectModel.ReadOnlyCollection<>), typeof(System.Collections.ObjectModel.ReadOnlyDictionary<,>),
        typeof(Nullable<>),
    ];

    private static readonly HashSet<Type> AllowedScalars =
    [
        typeof(string), typeof(bool), typeof(byte), typeof(sbyte), typeof(char), typeof(short), typeof(ushort), typeof(int),
        typeof(uint), typeof(long), typeof(ulong), typeof(float), typeof(double), typeof(decimal), typeof(DateTime),
        typeof(TimeSpan), typeof(Guid), typeof(object),
    ];

    // Names seen are few (one per message shape); the cache is bounded so that a stream of invented names cannot grow it.
    private readonly ConcurrentDictionary<string, bool> _decided = new();

    private ProtocolTypeFilter()
    {
    }

    /// <inheritdoc />
    public bool IsAllowed(string typeName)
    {
        if (_decided.TryGetValue(typeName, out var known)) return known;
        var allowed = Resolve(typeName) is { } type && IsAllowed(type);
        if (_decided.Count < 1_000) _decided[typeName] = allowed;
        return allowed;
    }

    /// <summary>Whether a resolved type may appear in a protocol message.</summary>
    public static bool IsAllowed(Type type)
    {
        if (type.IsArray) return type.GetArrayRank() == 1 && IsAllowed(type.GetElementType()!);
        if (type.IsGenericType && !type.IsGenericTypeDefinition)
            return IsAllowedDefinition(type.GetGenericTypeDefinition()) && type.GetGenericArguments().All(IsAllowed);
        if (AllowedScalars.Contains(type)) return true;
        if (type.Assembly == ProtocolAssembly && type.Namespace == typeof(IProtocolMessage).Namespace) return true;
        // Hyperion writes an actor reference as Akka's surrogate of it, which resolves the path on arrival.
        return typeof(ISurrogate).IsAssignableFrom(type) && type.DeclaringType is { } outer
               && (typeof(IActorRef).IsAssignableFrom(outer) || typeof(ActorPath).IsAssignableFrom(outer));
    }

    private static bool IsAllowedDefinition(Type definition) =>
        AllowedGenericDefinitions.Contains(definition)
        // What C# collection expressions make of an IReadOnlyList<T> target, compiled into our assembly.
        || (definition.Assembly == ProtocolAssembly && definition.Namespace is null && definition.Name.StartsWith("<>z__ReadOnly", StringComparison.Ordinal));

    private static Type? Resolve(string typeName)
    {
        try
        {
            return Type.GetType(typeName, LoadedAssembly, (assembly, name, ignoreCase) =>
                (assembly ?? typeof(object).Assembly).GetType(name, throwOnError: false, ignoreCase), throwOnError: false);
        }
        catch (Exception e) when (e is ArgumentException or IOException or TypeLoadException or BadImageFormatException)
        {
            return null;
        }
    }

    // Never loads an assembly: a name may only refer to what this process already runs.
    private static Assembly? LoadedAssembly(AssemblyName name) =>
        AppDomain.CurrentDomain.GetAssemblies().FirstOrDefault(a => AssemblyName.ReferenceMatchesDefinition(name, a.GetName())
                                                                     && string.Equals(a.GetName().Name, name.Name, StringComparison.OrdinalIgnoreCase));
}

/// <summary>
/// Stands in for a serializer that Akka registers by default and that a peer could name in a frame to
/// have arbitrary types instantiated: Akka's JSON serializer (id 1, Newtonsoft with type names) and
/// the remote-deployment serializer (id 3, which creates actors of any type a frame names). Nothing of
/// ours uses either; a frame for them is refused (Akka.Remote logs and drops it), and so is a message
/// that would fall back to them when sent.
/// </summary>
public abstract class RefusedSerializer(ExtendedActorSystem system) : Serializer(system)
{
    /// <summary>What the refused serializer did.</summary>
    protected abstract string Refused { get; }

    /// <inheritdoc />
    public override bool IncludeManifest => false;

    /// <inheritdoc />
    public override byte[] ToBinary(object obj) =>
        throw new SerializationException($"{obj.GetType()} has no serializer of its own and {Refused} is turned off; it was not sent (protocol messages implement {nameof(IProtocolMessage)}).");

    /// <inheritdoc />
    public override object FromBinary(byte[] bytes, Type type) =>
        throw new WireFormatException($"A frame for serializer {Identifier} ({Refused}) was refused: that serializer is turned off.");
}

/// <summary>Refuses Akka's JSON serializer (id 1).</summary>
public sealed class RefusedJsonSerializer(ExtendedActorSystem system) : RefusedSerializer(system)
{
    /// <summary>Created by Akka when HOCON has settings for the serializer it replaces.</summary>
    public RefusedJsonSerializer(ExtendedActorSystem system, Config config) : this(system) => _ = config;

    /// <inheritdoc />
    public override int Identifier => 1;

    /// <inheritdoc />
    protected override string Refused => "Akka's JSON serializer";
}

/// <summary>Refuses remote deployment (id 3): no peer creates actors in this process.</summary>
public sealed class RefusedRemoteDeploySerializer(ExtendedActorSystem system) : RefusedSerializer(system)
{
    /// <summary>Created by Akka when HOCON has settings for the serializer it replaces.</summary>
    public RefusedRemoteDeploySerializer(ExtendedActorSystem system, Config config) : this(system) => _ = config;

    /// <inheritdoc />
    public override int Identifier => 3;

    /// <inheritdoc />
    protected override string Refused => "remote deployment";
}
