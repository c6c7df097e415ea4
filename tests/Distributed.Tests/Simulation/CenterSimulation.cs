namespace Distributed.Tests.Simulation;

/// <summary>
/// Seeded runs of the <see cref="CenterWorld"/>: a seed makes the steps, the steps make the run, so
/// a seed reproduces a run exactly. A failing run is shrunk to the shortest sequence of steps found
/// that still fails, and reported with its seed.
/// </summary>
internal static class CenterSimulation
{
    /// <summary>How often each act is drawn: deliveries and completions dominate, failures are rare.</summary>
    private static readonly (Act Act, int Weight)[] Weights =
    [
        (Act.Submit, 10), (Act.DeliverToWorker, 18), (Act.DeliverFromWorker, 18), (Act.DeliverToClient, 10),
        (Act.DeliverFromClient, 12), (Act.FinishTasks, 18), (Act.CompleteFetch, 8), (Act.AnswerProbe, 3),
        (Act.DeliverNodeEvent, 3), (Act.KillWorker, 1), (Act.PauseWorker, 1), (Act.ResumeWorker, 2),
        (Act.JoinWorker, 1), (Act.Release, 4), (Act.AskHolders, 2), (Act.Replicate, 2), (Act.AskWorkers, 1),
        (Act.ClientLeave, 1), (Act.ClientCrash, 1), (Act.ClientJoin, 1), (Act.RestartCenter, 1), (Act.Tick, 3),
    ];

    /// <summary>
    /// Makes and runs the steps of the run with this seed: each step draws, by weight, among the acts
    /// that would do something at that moment. Returns the steps (up to the failing one) and the
    /// failure, if any.
    /// </summary>
    public static (List<Step> Steps, Exception? Failure, long Events) Generate(int seed, int count)
    {
        var random = new Random(seed);
        var world = new CenterWorld();
        var steps = new List<Step>(count);
        var enabled = new List<(Act Act, int Weight)>(Weights.Length);
        try
        {
            for (var i = 0; i < count; i++)
            {
                enabled.Clear();
                foreach (var candidate in Weights)
                    if (world.IsEnabled(candidate.Act)) enabled.Add(candidate);
                var roll = random.Next(enabled.Sum(w => w.Weight));
                var act = enabled[0].Act;
                foreach (var (candidate, weight) in enabled)
                {
                    if (roll < weight) { act = candidate; break; }
                    roll -= weight;
                }
                var step = new Step(act, random.Next(), random.Next(), random.Next());
                steps.Add(step);
                world.Apply(step);
            }
            world.Settle();
            world.ReleaseEverythingAndCheckEmpty();
            return (steps, null, world.EventsHandled);
        }
        catch (Exception e)
        {
            return (steps, e, world.EventsHandled);
        }
    }

    /// <summary>
    /// Replays the steps, lets the world settle and checks that nothing remains once everything is
    /// released. Returns the world (its trace ends where a failure stopped it) and the failure, if any.
    /// </summary>
    public static (CenterWorld World, Exception? Failure) Replay(IReadOnlyList<Step> steps)
    {
        var world = new CenterWorld();
        try
        {
            foreach (var step in steps) world.Apply(step);
            world.Settle();
            world.ReleaseEverythingAndCheckEmpty();
            return (world, null);
        }
        catch (Exception e)
        {
            return (world, e);
        }
    }

    /// <summary>
    /// Runs the seed; on a failure, throws a <see cref="SimulationFailure"/> that names the seed, the
    /// failure, the shortest failing sequence found and the end of that run's trace.
    /// </summary>
    public static long RunSeed(int seed, int stepCount)
    {
        var (steps, failure, events) = Generate(seed, stepCount);
        if (failure is null) return events;
        var shortest = Shrink(steps, failure);
        var (shortRun, shortFailure) = Replay(shortest);
        throw new SimulationFailure(
            $"Simulation seed {seed} ({stepCount} steps) failed: {failure.Message}\n" +
            $"Reproduce: DISTRIBUTED_SIMULATION_SEED={seed} DISTRIBUTED_SIMULATION_STEPS={stepCount} dotnet test tests/Distributed.Tests --filter FullyQualifiedName~CenterSimulationTests\n" +
            $"Shortest failing sequence found ({shortest.Count} steps): {string.Join(" ", shortest)}\n" +
            $"It fails with: {shortFailure!.GetType().Name}: {shortFailure.Message}\n" +
            $"{(shortFailure is SimulationFailure ? "" : shortFailure.StackTrace + "\n")}" +
            $"Trace of the short run:\n{string.Join("\n", shortRun.Trace.TakeLast(150))}");
    }

    /// <summary>What makes two failures the same: the exception's type and its message without the names and numbers in it.</summary>
    private static string Signature(Exception e) =>
        e.GetType().Name + ":" + System.Text.RegularExpressions.Regex.Replace(e.Message.Split('\n')[0], @"k\d+-c\d+|[\d#]+|w\d+", "_");

    /// <summary>The shortest sequence found that still fails the same way (same exception type and message shape).</summary>
    public static IReadOnlyList<Step> Shrink(IReadOnlyList<Step> steps, Exception failure) =>
        SimulationShrinker.Shrink(steps, failure, candidate => Replay(candidate).Failure, Signature);
}
