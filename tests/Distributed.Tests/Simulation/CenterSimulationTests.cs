using Xunit.Abstractions;

namespace Distributed.Tests.Simulation;

/// <summary>
/// The center's core driven through random interleavings by <see cref="CenterSimulation"/>. Every run
/// checks the invariants after each step and, once settled, that every wait was answered and that
/// nothing remains after everything is released.
/// </summary>
/// <remarks>
/// A longer soak: <c>DISTRIBUTED_SIMULATION_SEEDS=20000 dotnet test tests/Distributed.Tests --filter FullyQualifiedName~CenterSimulationTests</c>.
/// One seed: <c>DISTRIBUTED_SIMULATION_SEED=N</c> (and <c>DISTRIBUTED_SIMULATION_STEPS</c>).
/// </remarks>
public sealed class CenterSimulationTests(ITestOutputHelper output)
{
    private const int StepsPerRun = 500;

    [Fact]
    public void Many_seeded_runs_keep_every_invariant_and_settle()
    {
        var single = Environment.GetEnvironmentVariable("DISTRIBUTED_SIMULATION_SEED");
        var steps = int.TryParse(Environment.GetEnvironmentVariable("DISTRIBUTED_SIMULATION_STEPS"), out var s) ? s : StepsPerRun;
        if (int.TryParse(single, out var seed))
        {
            output.WriteLine($"seed {seed}: {CenterSimulation.RunSeed(seed, steps)} events");
            return;
        }
        var seeds = int.TryParse(Environment.GetEnvironmentVariable("DISTRIBUTED_SIMULATION_SEEDS"), out var n) ? n : 1000;
        long events = 0;
        for (var i = 1; i <= seeds; i++) events += CenterSimulation.RunSeed(i, steps);
        output.WriteLine($"{seeds} seeds of {steps} steps: {events:N0} events handled by the center");
        // The issue asks CI for at least 100,000 simulated events.
        if (seeds >= 1000) Assert.True(events >= 100_000, $"only {events} events were simulated");
    }

    /// <summary>Seeds that once found a bug, kept so that it stays fixed.</summary>
    [Theory]
    [InlineData(1705)] // a copy deleted as "unknown" while the same worker was making the value again: the center then counted a holder without the value
    public void Seeds_that_found_bugs_pass(int seed) => CenterSimulation.RunSeed(seed, StepsPerRun);

    [Fact]
    public void The_same_seed_makes_the_same_run()
    {
        var (steps, failure, events) = CenterSimulation.Generate(42, StepsPerRun);
        Assert.Null(failure);
        Assert.Equal(steps, CenterSimulation.Generate(42, StepsPerRun).Steps);
        // Replaying the recorded steps is the same run.
        var (replayed, replayFailure) = CenterSimulation.Replay(steps);
        Assert.Null(replayFailure);
        Assert.Equal(events, replayed.EventsHandled);
    }
}
