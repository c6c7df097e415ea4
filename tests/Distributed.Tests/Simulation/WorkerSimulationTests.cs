using Xunit.Abstractions;

namespace Distributed.Tests.Simulation;

/// <summary>
/// The worker's core driven through random interleavings by <see cref="WorkerSimulation"/>: every run
/// checks the invariants after each step and, once settled, that every task given was reported once,
/// and that nothing waits or leaks.
/// </summary>
/// <remarks>
/// The same variables as <see cref="CenterSimulationTests"/>, with this class's filter.
/// A soak: <c>DISTRIBUTED_SIMULATION_SEEDS=20000 dotnet test tests/Distributed.Tests --filter FullyQualifiedName~WorkerSimulationTests</c>.
/// One seed: <c>DISTRIBUTED_SIMULATION_SEED=N</c> (and <c>DISTRIBUTED_SIMULATION_STEPS</c>).
/// </remarks>
public sealed class WorkerSimulationTests(ITestOutputHelper output)
{
    private const int StepsPerRun = 400;
    private const int Seeds = 500;

    [Fact]
    public void Many_seeded_runs_keep_every_invariant_and_settle()
    {
        var steps = int.TryParse(Environment.GetEnvironmentVariable("DISTRIBUTED_SIMULATION_STEPS"), out var s) ? s : StepsPerRun;
        if (int.TryParse(Environment.GetEnvironmentVariable("DISTRIBUTED_SIMULATION_SEED"), out var seed))
        {
            output.WriteLine($"seed {seed}: {WorkerSimulation.RunSeed(seed, steps)} events");
            return;
        }
        var seeds = int.TryParse(Environment.GetEnvironmentVariable("DISTRIBUTED_SIMULATION_SEEDS"), out var n) ? n : Seeds;
        long events = 0;
        for (var i = 1; i <= seeds; i++) events += WorkerSimulation.RunSeed(i, steps);
        output.WriteLine($"{seeds} seeds of {steps} steps: {events:N0} events handled by the worker core");
        // The issue asks CI for at least 50,000 simulated worker events.
        if (seeds >= Seeds && steps >= StepsPerRun) Assert.True(events >= 50_000, $"only {events} events were simulated");
    }

    [Fact]
    public void The_same_seed_makes_the_same_run()
    {
        var (steps, failure, events) = WorkerSimulation.Generate(42, StepsPerRun);
        Assert.Null(failure);
        Assert.Equal(steps, WorkerSimulation.Generate(42, StepsPerRun).Steps);
        var (replayed, replayFailure) = WorkerSimulation.Replay(steps);
        Assert.Null(replayFailure);
        Assert.Equal(events, replayed.EventsHandled);
    }
}
