using Akka.Actor;
using Akka.Configuration;
using Akka.Serialization;
using Distributed.Protocol;

namespace Distributed.Tests.Fuzz;

/// <summary>
/// Serializers for an attacking actor system that holds the cluster's credentials: they answer to the
/// real serializers' ids and manifests (7,870 for task batches, 7,872 for the other records), encode a
/// message the real way, then mutate the bytes (and now and then swap the manifest), so that the
/// receiving center or worker decodes mutated real frames.
/// </summary>
public static class MutatingSerializers
{
    private static readonly Lock Gate = new();
    private static Mutations _mutations = new(0);
    private static readonly List<byte[]> Recent = [];

    /// <summary>How many frames were mutated so far.</summary>
    public static int Mutated { get; private set; }

    public static void Reset(int seed)
    {
        lock (Gate)
        {
            _mutations = new Mutations(seed);
            Recent.Clear();
            Mutated = 0;
        }
    }

    public static byte[] Mutate(byte[] frame)
    {
        lock (Gate)
        {
            var other = Recent.Count > 0 ? Recent[_mutations.Random.Next(Recent.Count)] : frame;
            if (Recent.Count < 64) Recent.Add(frame);
            Mutated++;
            return _mutations.Mutate(frame, other);
        }
    }

    public static string Manifest(string real, IReadOnlyList<string> others)
    {
        lock (Gate) return _mutations.Random.Next(8) == 0 ? others[_mutations.Random.Next(others.Count)] : real;
    }

    /// <summary>The HOCON that puts these serializers in place of the real ones.</summary>
    public static Config Config { get; } = ConfigurationFactory.ParseString($$"""
        akka.actor.serializers.distributed = "{{typeof(MutatingProtocolSerializer).AssemblyQualifiedName}}"
        akka.actor.serializers.records = "{{typeof(MutatingRecordSerializer).AssemblyQualifiedName}}"
        """);
}

public sealed class MutatingProtocolSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    private static readonly string[] Manifests = ["S", "R", "F", "X", "", "Q"];
    private readonly ProtocolSerializer _real = new(system);

    public override int Identifier => _real.Identifier;

    public override string Manifest(object o) => MutatingSerializers.Manifest(_real.Manifest(o), Manifests);

    public override byte[] ToBinary(object obj) => MutatingSerializers.Mutate(_real.ToBinary(obj));

    public override object FromBinary(byte[] bytes, string manifest) => _real.FromBinary(bytes, manifest);
}

public sealed class MutatingRecordSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    private static readonly string[] Manifests = [nameof(DeleteKeys), nameof(WhoHas), nameof(RegisterWorker), nameof(FetchKeys), nameof(WorkersReply), "Process", ""];
    private readonly RecordSerializer _real = new(system);

    public override int Identifier => _real.Identifier;

    public override string Manifest(object o) => MutatingSerializers.Manifest(_real.Manifest(o), Manifests);

    public override byte[] ToBinary(object obj) => MutatingSerializers.Mutate(_real.ToBinary(obj));

    public override object FromBinary(byte[] bytes, string manifest) => _real.FromBinary(bytes, manifest);
}
