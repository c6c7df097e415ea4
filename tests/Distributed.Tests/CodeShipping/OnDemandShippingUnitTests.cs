using Akka.Actor;
using Distributed.Client;
using Distributed.Protocol;
using Distributed.Worker;

namespace Distributed.Tests.CodeShipping;

/// <summary>
/// What the client answers when a worker asks for an assembly by name (this test process is the client:
/// tests/Fixtures/LoadedByName is in its deps.json and folder, never referenced by its code), how a
/// satellite is named and kept, and how a worker keeps track of what its executors wait for.
/// </summary>
public sealed class OnDemandShippingUnitTests
{
    private static readonly string HashA = new('a', 64);
    private static readonly string HashB = new('b', 64);

    [Fact]
    public void The_client_answers_an_assembly_of_its_program_that_its_code_never_names_by_hash()
    {
        var shipping = new Distributed.Client.CodeShipping();

        var (assembly, problem) = shipping.Resolve("LoadedByName");

        Assert.Null(problem);
        Assert.Equal("LoadedByName", assembly!.Name);
        var path = shipping.PathOf(assembly.Hash);
        Assert.Equal(Path.Combine(AppContext.BaseDirectory, "LoadedByName.dll"), path);
        Assert.Equal(ContentAddress.AssemblyHashOf(File.ReadAllBytes(path!)), assembly.Hash);
    }

    [Fact]
    public void The_client_answers_a_satellite_from_its_cultures_folder_beside_the_main_assembly()
    {
        var shipping = new Distributed.Client.CodeShipping();

        var (assembly, problem) = shipping.Resolve("fr/Localized.resources");

        Assert.Null(problem);
        Assert.Equal("fr/Localized.resources", assembly!.Name);
        Assert.Equal(Path.Combine(AppContext.BaseDirectory, "fr", "Localized.resources.dll"), shipping.PathOf(assembly.Hash));
        Assert.Contains("no de satellite of Localized", shipping.Resolve("de/Localized.resources").Problem);
    }

    [Theory]
    [InlineData("NoSuchAssemblyAnywhere", "The client program has no assembly NoSuchAssemblyAnywhere either")]
    [InlineData("Distributed.Protocol", "part of Distributed")]
    [InlineData("System.Formats.Tar", "framework")]
    [InlineData("../LoadedByName", "refused")]
    public void The_client_says_why_it_does_not_answer_a_name(string name, string reason)
    {
        _ = typeof(System.Formats.Tar.TarFile); // loaded here from the shared framework
        var (assembly, problem) = new Distributed.Client.CodeShipping().Resolve(name);

        Assert.Null(assembly);
        Assert.Contains(reason, problem);
    }

    [Theory]
    [InlineData("fr/Localized.resources", true)]
    [InlineData("pt-BR/Localized.resources", true)]
    [InlineData("zh-Hans/Localized.resources", true)]
    [InlineData("fr/Localized", false)]
    [InlineData("fr/../Localized.resources", false)]
    [InlineData("a/b/Localized.resources", false)]
    [InlineData("Localized.resources", false)]
    public void Only_a_culture_and_a_resources_name_make_a_satellites_name(string name, bool satellite)
    {
        Assert.Equal(satellite, SatelliteNames.TrySplit(name, out _, out _) && ContentAddress.Problem(new AssemblyRef(name, HashA)) is null);
        if (name.Contains('/')) Assert.Equal(satellite, ContentAddress.Problem(new AssemblyRef(name, HashA)) is null); // no other name with a '/'
    }

    [Fact]
    public void A_worker_keeps_a_satellite_in_its_cultures_folder_under_its_hash()
    {
        var cache = new AssemblyCache("/cache");

        Assert.Equal(Path.Combine("/cache", HashA, "fr", "Localized.resources.dll"), cache.PathOf(new AssemblyRef("fr/Localized.resources", HashA)));
    }

    [Fact]
    public void A_deps_file_lists_a_librarys_satellites_by_culture()
    {
        const string Deps = """
        {
          "runtimeTarget": { "name": ".NETCoreApp,Version=v10.0", "signature": "" },
          "targets": { ".NETCoreApp,Version=v10.0": {
            "Humanizer.Core.fr/2.14.1": { "dependencies": { "Humanizer.Core": "2.14.1" }, "resources": { "lib/netstandard2.0/fr/Humanizer.resources.dll": { "locale": "fr" } } },
            "Humanizer.Core/2.14.1": { "runtime": { "lib/net6.0/Humanizer.dll": {} } }
          } },
          "libraries": { "Humanizer.Core.fr/2.14.1": { "type": "package", "path": "humanizer.core.fr/2.14.1" }, "Humanizer.Core/2.14.1": { "type": "package", "path": "humanizer.core/2.14.1" } }
        }
        """;

        var french = Assert.Single(DepsFile.Parse(Deps, "linux-x64").Libraries, l => l.Name == "Humanizer.Core.fr");

        Assert.Equal([new DepsResourceAsset("fr", "lib/netstandard2.0/fr/Humanizer.resources.dll")], french.Resources);
    }

    [Fact]
    public void A_worker_asks_a_client_once_per_name_and_fetches_a_file_once_for_every_executor_waiting()
    {
        var onDemand = new OnDemandAssemblies();
        var first = new OnDemandAssemblies.Waiter(ActorRefs.Nobody, 1);
        var second = new OnDemandAssemblies.Waiter(ActorRefs.Nobody, 2);

        Assert.True(onDemand.AwaitName("client-1", "LoadedByName", first));
        Assert.False(onDemand.AwaitName("client-1", "LoadedByName", second));
        Assert.True(onDemand.AwaitName("client-2", "LoadedByName", first)); // another client's answer is its own
        var waiters = onDemand.NameAnswered("client-1", "LoadedByName");
        Assert.Equal([first, second], waiters);
        Assert.Empty(onDemand.NameAnswered("client-1", "LoadedByName"));

        var assembly = new AssemblyRef("LoadedByName", HashB);
        Assert.True(onDemand.AwaitBytes("client-1", assembly, waiters));
        Assert.False(onDemand.AwaitBytes("client-1", assembly, [new OnDemandAssemblies.Waiter(ActorRefs.Nobody, 3)]));
        Assert.True(onDemand.AwaitsBytes(HashB, "client-1"));
        Assert.False(onDemand.AwaitsBytes(HashB, "client-2")); // bytes are taken only from the client asked
        Assert.Equal([1L, 2L, 3L], onDemand.BytesArrived(HashB).Select(w => w.RequestId));
        Assert.False(onDemand.AwaitsBytes(HashB, "client-1"));
    }
}
