using Akka.Actor;
using Akka.TestKit.Xunit2;
using Distributed.Protocol;

namespace Distributed.Tests.Serialization;

/// <summary>A code manifest's native libraries travel with it from the client through the center to the workers.</summary>
public sealed class NativeManifestWireTests() : TestKit("akka.actor.provider = local")
{
    [Fact]
    public void A_manifests_native_libraries_survive_the_wire_and_a_manifest_without_any_stays_without()
    {
        var serializer = new ProtocolSerializer((ExtendedActorSystem)Sys);
        var hash = new string('d', 64);
        var withNatives = new CodeManifest("v1", [new AssemblyRef("A", hash)],
            [new NativeLibraryRef("SQLitePCLRaw.lib.e_sqlite3", "linux-x64", "libe_sqlite3.so", hash)]);
        var plain = new CodeManifest("v2", [new AssemblyRef("A", hash)]);
        CodeManifest RoundTrip(CodeManifest code) =>
            ((SubmitTasks)serializer.FromBinary(serializer.ToBinary(new SubmitTasks(code, [], [])), serializer.Manifest(new SubmitTasks(code, [], [])))).Code;

        var copy = RoundTrip(withNatives);
        var plainCopy = RoundTrip(plain);

        Assert.Equal(withNatives.NativeLibraries, copy.NativeLibraries);
        Assert.Equal(withNatives.Assemblies, copy.Assemblies);
        Assert.Null(plainCopy.Natives);
    }
}
