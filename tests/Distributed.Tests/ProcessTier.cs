using Xunit.Abstractions;
using Xunit.Sdk;

namespace Distributed.Tests;

/// <summary>
/// Puts a test class in the process tier (trait <c>Tier=Process</c>): its tests start real processes (a
/// <see cref="Distributed.Hosting.LocalCluster"/>, dcenter/dworker/executor programs, network namespaces) or wait on their start.
/// Every other test is in the fast tier, <c>--filter "Tier!=Process"</c>, which runs with
/// <see cref="Protocol.ChildProcessSwitch.Variable"/> set, so that a test there that starts a process fails at once, naming it.
/// </summary>
[TraitDiscoverer("Distributed.Tests.ProcessTierDiscoverer", "Distributed.Tests")]
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class ProcessTierAttribute : Attribute, ITraitAttribute
{
    public const string Trait = "Tier";
    public const string Value = "Process";
}

/// <summary>The trait of <see cref="ProcessTierAttribute"/>: one name, so that the filters cannot be misspelt per class.</summary>
public sealed class ProcessTierDiscoverer : ITraitDiscoverer
{
    public IEnumerable<KeyValuePair<string, string>> GetTraits(IAttributeInfo traitAttribute) =>
        [new(ProcessTierAttribute.Trait, ProcessTierAttribute.Value)];
}
