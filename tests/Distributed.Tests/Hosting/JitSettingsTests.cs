using System.Text.Json;

namespace Distributed.Tests.Hosting;

/// <summary>
/// The JIT settings the programs run with (issue 12: a graph's and an array sum's first seconds ran on
/// unoptimized code) are in their built runtime configuration, which is what <c>dotnet dcenter.dll</c>
/// and <c>dotnet dworker.dll</c> (and so every executor) read at start.
/// </summary>
public sealed class JitSettingsTests
{
    [Theory]
    [InlineData("dcenter")]
    [InlineData("dworker")]
    public void The_programs_optimize_hot_methods_without_waiting_for_compilation_to_settle_and_without_dynamic_pgo(string program)
    {
        var file = Path.Combine(AppContext.BaseDirectory, program + ".runtimeconfig.json");
        using var document = JsonDocument.Parse(File.ReadAllText(file));
        var properties = document.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");
        Assert.Equal(0, properties.GetProperty("System.Runtime.TieredCompilation.CallCountingDelayMs").GetInt32());
        Assert.False(properties.GetProperty("System.Runtime.TieredPGO").GetBoolean());
    }
}
