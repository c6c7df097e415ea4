using Distributed.Protocol;

namespace Distributed.Tests;

/// <summary>The switch that keeps child processes out of the fast tier.</summary>
public sealed class ProcessTierTests
{
    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("0")]
    public void Processes_start_when_the_switch_is_unset_or_off(string? value) =>
        Assert.Null(ChildProcessSwitch.Refusal("dworker", value));

    [Fact]
    public void A_process_start_under_the_switch_is_refused_naming_the_program_the_variable_and_the_tier()
    {
        var refusal = ChildProcessSwitch.Refusal("dworker", "1");

        Assert.NotNull(refusal);
        Assert.Contains("dworker", refusal);
        Assert.Contains("DISTRIBUTED_NO_CHILD_PROCESSES=1", refusal);
        Assert.Contains("[ProcessTier]", refusal);
    }
}
