using System.Text.RegularExpressions;

namespace Distributed.Tests.Simulation;

/// <summary>Seeded runs of the <see cref="WorkerWorld"/> (see <see cref="SeededSimulation{TWorld, TAct, TStep}"/>).</summary>
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

    private static readonly SeededSimulation<WorkerWorld, WorkerAct, WorkerStep> Runs = new(
        "Worker simulation", "WorkerSimulationTests", Weights, () => new WorkerWorld(), (act, a, b, c) => new WorkerStep(act, a, b, c),
        new Regex(@"after \S+|[kr]?\d+|v\d"));

    /// <inheritdoc cref="SeededSimulation{TWorld, TAct, TStep}.Generate"/>
    public static (List<WorkerStep> Steps, Exception? Failure, long Events) Generate(int seed, int count) => Runs.Generate(seed, count);

    /// <inheritdoc cref="SeededSimulation{TWorld, TAct, TStep}.Replay"/>
    public static (WorkerWorld World, Exception? Failure) Replay(IReadOnlyList<WorkerStep> steps) => Runs.Replay(steps);

    /// <inheritdoc cref="SeededSimulation{TWorld, TAct, TStep}.RunSeed"/>
    public static long RunSeed(int seed, int stepCount) => Runs.RunSeed(seed, stepCount);
}
