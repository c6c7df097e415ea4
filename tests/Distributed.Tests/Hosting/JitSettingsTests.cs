using System.Diagnostics;
using System.Text.Json;
using Distributed.Worker.Executor;

namespace Distributed.Tests.Hosting;

/// <summary>
/// Executors tier hot methods up at once (issue 12: an array sum's first seconds ran on unoptimized
/// code); dcenter and dworker keep the runtime's default call-counting delay (without it their start
/// competed with the optimizing compiler), and all run without dynamic PGO (its instrumented tier cost
/// an idle node more than it gained). dworker's runtime configuration is the executors' too.
/// </summary>
public sealed class JitSettingsTests
{
    [Theory]
    [InlineData("dcenter")]
    [InlineData("dworker")]
    public void The_programs_run_without_dynamic_pgo_and_keep_the_default_call_counting_delay(string program)
    {
        var file = Path.Combine(AppContext.BaseDirectory, program + ".runtimeconfig.json");
        using var document = JsonDocument.Parse(File.ReadAllText(file));
        var properties = document.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");
        Assert.False(properties.TryGetProperty("System.Runtime.TieredCompilation.CallCountingDelayMs", out _));
        Assert.False(properties.GetProperty("System.Runtime.TieredPGO").GetBoolean());
    }

    [Fact]
    public void An_executor_tiers_hot_methods_up_without_the_call_counting_delay_unless_the_environment_says_otherwise()
    {
        var info = new ProcessStartInfo("dworker");
        info.Environment.Remove(ExecutorLauncher.CallCountingDelayVariable);
        ExecutorLauncher.TierUpAtOnce(info);
        Assert.Equal("0", info.Environment[ExecutorLauncher.CallCountingDelayVariable]);

        var chosen = new ProcessStartInfo("dworker");
        chosen.Environment[ExecutorLauncher.CallCountingDelayVariable] = "100";
        ExecutorLauncher.TierUpAtOnce(chosen);
        Assert.Equal("100", chosen.Environment[ExecutorLauncher.CallCountingDelayVariable]);
    }
}
