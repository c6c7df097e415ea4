using Shipping = Distributed.Client.CodeShipping;

namespace Distributed.Tests.Client;

/// <summary>
/// A pool makes the manifest of a function's code on every call: for a function of one user assembly
/// (or of none) it is made once and handed out again, the same as a fresh shipping makes it.
/// </summary>
public sealed class CodeManifestCacheTests
{
    [Fact]
    public void A_function_of_one_user_assembly_gets_one_manifest_made_once_as_a_fresh_shipping_makes_it()
    {
        var shipping = new Shipping();
        Func<int, int> increment = x => x + 1;

        var first = shipping.ManifestFor(Shipping.TypesOf(increment));
        var again = shipping.ManifestFor(Shipping.TypesOf(increment));
        var fresh = new Shipping().ManifestFor(Shipping.TypesOf(increment));

        Assert.Same(first, again);
        Assert.Contains(first.Assemblies, a => a.Name == typeof(CodeManifestCacheTests).Assembly.GetName().Name);
        Assert.Equal(fresh.Version, first.Version);
        Assert.Equal(fresh.Assemblies.Select(a => (a.Name, a.Hash)), first.Assemblies.Select(a => (a.Name, a.Hash)));
    }

    [Fact]
    public void A_function_of_framework_types_only_gets_one_empty_manifest()
    {
        var shipping = new Shipping();
        Func<string, int> parse = int.Parse;

        var first = shipping.ManifestFor(Shipping.TypesOf(parse));

        Assert.Empty(first.Assemblies);
        Assert.Same(first, shipping.ManifestFor(Shipping.TypesOf(parse)));
    }
}
