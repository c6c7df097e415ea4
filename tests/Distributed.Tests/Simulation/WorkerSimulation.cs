namespace Distributed.Tests.Simulation;

/// <summary>
/// Seeded runs of the <see cref="WorkerWorld"/>: a seed makes the steps, the steps make the run, so
/// a seed reproduces a run exactly. A failing run is shrunk to the shortest sequence of steps found
/// that still fails, and reported with its seed.
/// </summary>
internal static class WorkerSimulation
{
    /// <summary>How often each act is drawn: deliveries and task progress dominate, crashes and timeouts are rare.</summary>
    private static readonly (WorkerAct Act, int Weight)[] Weights =
    [
        (WorkerAct.SendBatch, 10), (WorkerAct.Cancel, 3), (WorkerAct.Delete, 3), (WorkerAct.AskCopies, 2),
        (WorkerAct.DeliverToWorker, 16), (WorkerAct.DeliverToCenter, 10), (WorkerAct.AnswerAssembly, 6),
        (WorkerAct.DeliverToExecutor, 14), (WorkerAct.DeliverFromExecutor, 14), (WorkerAct.EndFetch, 8),
        (WorkerAct.ChangeAssemblyOnDisk, 1), (WorkerAct.ConnectExecutor, 6), (WorkerAct.TakeTask, 12),
        (WorkerAct.FinishTask, 12), (WorkerAct.TimeOutTask, 1), (WorkerAct.CrashExecutor, 1), (WorkerAct.Tick, 3),
    ];

    /// <summary>
    /// Makes and runs the steps of the run with this seed: each step draws, by weight, among the acts
    /// that would do something at that moment. Returns the steps (up to the failing one), the failure
    /// if any, and how many events the core handled.
    /// </summary>
    public static (List<WorkerStep> Steps, Exception? Failure, long Events) Generate(int seed, int count)
    {
        var random = new Random(seed);
        var world = new WorkerWorld();
        var steps = new List<WorkerStep>(count);
        var enabled = new List<(WorkerAct Act, int Weight)>(Weights.Length);
        try
        {
            for (var i = 0; i < count; i++)
            {
                enabled.Clear();
                foreach (var candidate in Weights)
                    if (world.IsEnabled(candidate.Act)) enabled.Add(candidate);
                if (enabled.Count == 0) break;
                var roll = random.Next(enabled.Sum(w => w.Weight));
                var act = enabled[0].Act;
                foreach (var (candidate, weight) in enabled)
                {
                    if (roll < weight) { act = candidate; break; }
                    roll -= weight;
                }
                var step = new WorkerStep(act, random.Next(), random.Next(), random.Next());
                steps.Add(step);
                world.Apply(step);
            }
            world.Settle();
            return (steps, null, world.EventsHandled);
        }
        catch (Exception e)
        {
            return (steps, e, world.EventsHandled);
        }
    }

    /// <summary>Replays the steps and lets the world settle. Returns the world (its trace ends where a failure stopped it) and the failure, if any.</summary>
    public static (WorkerWorld World, Exception? Failure) Replay(IReadOnlyList<WorkerStep> steps)
    {
        var world = new WorkerWorld();
        try
        {
            foreach (var step in steps) world.Apply(step);
            world.Settle();
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
        var shortest = SimulationShrinker.Shrink(steps, failure, s => Replay(s).Failure, Signature);
        var (shortRun, shortFailure) = Replay(shortest);
        throw new SimulationFailure(
            $"Worker simulation seed {seed} ({stepCount} steps) failed: {failure.Message}\n" +
            $"Reproduce: DISTRIBUTED_SIMULATION_SEED={seed} DISTRIBUTED_SIMULATION_STEPS={stepCount} dotnet test tests/Distributed.Tests --filter FullyQualifiedName~WorkerSimulationTests\n" +
            $"Shortest failing sequence found ({shortest.Count} steps): {string.Join(" ", shortest)}\n" +
            $"It fails with: {shortFailure!.GetType().Name}: {shortFailure.Message}\n" +
            $"{(shortFailure is SimulationFailure ? "" : shortFailure.StackTrace + "\n")}" +
            $"Trace of the short run:\n{string.Join("\n", shortRun.Trace.TakeLast(150))}");
    }

    /// <summary>What makes two failures the same: the exception's type and its message without the names and numbers in it.</summary>
    private static string Signature(Exception e) =>
        e.GetType().Name + ":" + System.Text.RegularExpressions.Regex.Replace(e.Message.Split('\n')[0], @"after \S+|[kr]?\d+|v\d", "_");
}
