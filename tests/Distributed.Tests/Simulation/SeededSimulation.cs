using System.Text.RegularExpressions;

namespace Distributed.Tests.Simulation;

/// <summary>A world a <see cref="SeededSimulation{TWorld, TAct, TStep}"/> drives: a core among simulated surroundings.</summary>
internal interface ISimulatedWorld<TAct, TStep>
{
    /// <summary>Events the core has handled so far.</summary>
    long EventsHandled { get; }

    /// <summary>What happened, one line a step, for the report of a failure.</summary>
    IReadOnlyList<string> Trace { get; }

    /// <summary>Whether the act would do something now.</summary>
    bool IsEnabled(TAct act);

    /// <summary>Does one step, then checks the invariants; throws <see cref="SimulationFailure"/> when one breaks.</summary>
    void Apply(TStep step);

    /// <summary>Delivers everything pending and checks what must hold at the end of a run.</summary>
    void Finish();
}

/// <summary>
/// Seeded runs of a simulated world: a seed makes the steps, the steps make the run, so a seed
/// reproduces a run exactly. A failing run is shrunk to the shortest sequence of steps found that
/// still fails the same way, and reported with its seed and the command that replays it.
/// </summary>
/// <param name="name">The simulation's name in a report ("Center simulation").</param>
/// <param name="testClass">The test class that runs it, for the command that reproduces a seed.</param>
/// <param name="weights">How often each act is drawn, among those enabled.</param>
/// <param name="newWorld">Makes a fresh world.</param>
/// <param name="newStep">Makes a step of an act and three random numbers that pick its details.</param>
/// <param name="variableParts">What to blank out of a failure's message (names, numbers) so that two failures compare by shape.</param>
internal sealed class SeededSimulation<TWorld, TAct, TStep>(
    string name, string testClass, (TAct Act, int Weight)[] weights, Func<TWorld> newWorld, Func<TAct, int, int, int, TStep> newStep, Regex variableParts)
    where TWorld : ISimulatedWorld<TAct, TStep>
{
    /// <summary>
    /// Makes and runs the steps of the run with this seed: each step draws, by weight, among the acts
    /// that would do something at that moment. Returns the steps (up to the failing one), the failure
    /// if any, and how many events the core handled.
    /// </summary>
    public (List<TStep> Steps, Exception? Failure, long Events) Generate(int seed, int count)
    {
        var random = new Random(seed);
        var world = newWorld();
        var steps = new List<TStep>(count);
        var enabled = new List<(TAct Act, int Weight)>(weights.Length);
        try
        {
            for (var i = 0; i < count; i++)
            {
                enabled.Clear();
                foreach (var candidate in weights)
                    if (world.IsEnabled(candidate.Act)) enabled.Add(candidate);
                if (enabled.Count == 0) break;
                var roll = random.Next(enabled.Sum(w => w.Weight));
                var act = enabled[0].Act;
                foreach (var (candidate, weight) in enabled)
                {
                    if (roll < weight) { act = candidate; break; }
                    roll -= weight;
                }
                var step = newStep(act, random.Next(), random.Next(), random.Next());
                steps.Add(step);
                world.Apply(step);
            }
            world.Finish();
            return (steps, null, world.EventsHandled);
        }
        catch (Exception e)
        {
            return (steps, e, world.EventsHandled);
        }
    }

    /// <summary>Replays the steps and finishes the run. Returns the world (its trace ends where a failure stopped it) and the failure, if any.</summary>
    public (TWorld World, Exception? Failure) Replay(IReadOnlyList<TStep> steps)
    {
        var world = newWorld();
        try
        {
            foreach (var step in steps) world.Apply(step);
            world.Finish();
            return (world, null);
        }
        catch (Exception e)
        {
            return (world, e);
        }
    }

    /// <summary>
    /// Runs the seed and returns the events handled; on a failure, throws a <see cref="SimulationFailure"/>
    /// that names the seed, the failure, the shortest failing sequence found and the end of that run's trace.
    /// </summary>
    public long RunSeed(int seed, int stepCount)
    {
        var (steps, failure, events) = Generate(seed, stepCount);
        if (failure is null) return events;
        var shortest = Shrink(steps, failure);
        var (shortRun, shortFailure) = Replay(shortest);
        throw new SimulationFailure(
            $"{name} seed {seed} ({stepCount} steps) failed: {failure.Message}\n" +
            $"Reproduce: DISTRIBUTED_SIMULATION_SEED={seed} DISTRIBUTED_SIMULATION_STEPS={stepCount} dotnet test tests/Distributed.Tests --filter FullyQualifiedName~{testClass}\n" +
            $"Shortest failing sequence found ({shortest.Count} steps): {string.Join(" ", shortest)}\n" +
            $"It fails with: {shortFailure!.GetType().Name}: {shortFailure.Message}\n" +
            $"{(shortFailure is SimulationFailure ? "" : shortFailure.StackTrace + "\n")}" +
            $"Trace of the short run:\n{string.Join("\n", shortRun.Trace.TakeLast(150))}");
    }

    /// <summary>The shortest sequence found that still fails the same way (same exception type and message shape).</summary>
    public IReadOnlyList<TStep> Shrink(IReadOnlyList<TStep> steps, Exception failure) =>
        SimulationShrinker.Shrink(steps, failure, candidate => Replay(candidate).Failure, Signature);

    /// <summary>What makes two failures the same: the exception's type and its first line without the names and numbers in it.</summary>
    private string Signature(Exception e) => e.GetType().Name + ":" + variableParts.Replace(e.Message.Split('\n')[0], "_");
}

/// <summary>How a world turns a step's random number into a choice.</summary>
internal static class SimulationDraw
{
    /// <summary>One of <paramref name="candidates"/> chosen by <paramref name="pick"/>, or null when there are none.</summary>
    public static T? Pick<T>(IEnumerable<T> candidates, int pick) where T : class
    {
        var list = candidates as IList<T> ?? candidates.ToList();
        return list.Count == 0 ? null : list[(int)((uint)pick % (uint)list.Count)];
    }
}
