using System.Text.RegularExpressions;

namespace Distributed.Tests.Simulation;

/// <summary>Seeded runs of the <see cref="CenterWorld"/> (see <see cref="SeededSimulation{TWorld, TAct, TStep}"/>).</summary>
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
        (Act.Publish, 2), (Act.Unpublish, 1),
    ];

    private static readonly SeededSimulation<CenterWorld, Act, Step> Runs = new(
        "Simulation", "CenterSimulationTests", Weights, () => new CenterWorld(), (act, a, b, c) => new Step(act, a, b, c),
        new Regex(@"k\d+-c\d+|[\d#]+|w\d+"));

    /// <inheritdoc cref="SeededSimulation{TWorld, TAct, TStep}.Generate"/>
    public static (List<Step> Steps, Exception? Failure, long Events) Generate(int seed, int count) => Runs.Generate(seed, count);

    /// <inheritdoc cref="SeededSimulation{TWorld, TAct, TStep}.Replay"/>
    public static (CenterWorld World, Exception? Failure) Replay(IReadOnlyList<Step> steps) => Runs.Replay(steps);

    /// <inheritdoc cref="SeededSimulation{TWorld, TAct, TStep}.RunSeed"/>
    public static long RunSeed(int seed, int stepCount) => Runs.RunSeed(seed, stepCount);
}
