using System.Globalization;
using System.Reflection;

namespace Distributed.Tests.CodeShipping;

/// <summary>
/// Code that no manifest can list runs on plain workers: an assembly a lambda reaches only by name
/// (tests/Fixtures/LoadedByName, which the tests' code never names, so the compiled test assembly does
/// not reference it) and a satellite resource assembly of the culture a lambda sets (tests/Fixtures/Localized's
/// fr/Localized.resources.dll). The executor's load context misses them, and its worker asks the client
/// through the center, fetches the file by hash and hands it over.
/// </summary>
[Collection(PlainWorkersCollection.Name)]
[ProcessTier]
public sealed class OnDemandShippingTests(PlainWorkersFixture fixture)
{
    private Pool Pool => fixture.Pool;

    private static readonly IReadOnlyList<int> Inputs = Enumerable.Range(0, 6).ToList();

    [Fact]
    public void The_fixture_is_reached_only_by_name()
    {
        Assert.DoesNotContain(typeof(OnDemandShippingTests).Assembly.GetReferencedAssemblies(), a => a.Name == "LoadedByName");
        Assert.DoesNotContain("LoadedByName", fixture.Programs.AssemblyNames);
        Assert.DoesNotContain("Localized", fixture.Programs.AssemblyNames);
    }

    [Fact]
    public void Map_runs_code_that_loads_an_assembly_only_the_client_has_by_name()
    {
        var greetings = Pool.Map(static x => (string)Type.GetType("LoadedByName.Greeter, LoadedByName", throwOnError: true)!
            .GetMethod("Greet")!.Invoke(null, [$"#{x}"])!, Inputs);

        Assert.Equal(Inputs.Select(x => $"hello #{x} from LoadedByName"), Pool.Gather(greetings));
        // Assembly.Load by name too, in a later task of the same executors: loaded already, or asked again.
        var names = Pool.Map(static _ => Assembly.Load("LoadedByName").GetName().Name!, Inputs);
        Assert.All(Pool.Gather(names), n => Assert.Equal("LoadedByName", n));
    }

    [Fact]
    public void An_assembly_the_client_does_not_have_either_fails_the_task_naming_it()
    {
        var error = Assert.Throws<RemoteTaskException>(() => Pool.Map(static _ => Assembly.Load("NoSuchAssemblyAnywhere").FullName!, [1]));

        Assert.Equal(typeof(FileNotFoundException).FullName, error.RemoteTypeName);
        Assert.Contains("NoSuchAssemblyAnywhere", error.RemoteMessage);
        Assert.Contains("The client program has no assembly NoSuchAssemblyAnywhere", error.RemoteMessage);
    }

    [Fact]
    public void Map_reads_the_resources_of_the_culture_a_lambda_sets()
    {
        var greetings = Pool.Map(static culture => InCulture(culture, () => Localized.Phrases.Greeting), ["fr", "", "fr", "de"]);

        // German has no satellite: it falls back to the neutral resources, as on the client.
        Assert.Equal(["Bonjour", "Hello", "Bonjour", "Hello"], Pool.Gather(greetings));
    }

    private static string InCulture(string culture, Func<string> read)
    {
        var before = CultureInfo.CurrentUICulture;
        CultureInfo.CurrentUICulture = new CultureInfo(culture);
        try { return read(); }
        finally { CultureInfo.CurrentUICulture = before; }
    }
}
