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
    private const int Seeds = 400;

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

    /// <summary>Seeds that once found a bug in the worker core (at <see cref="StepsPerRun"/> steps), kept so that it stays fixed.</summary>
    [Theory]
    [InlineData(1)] // the answer of a cancelled run taken for a later assignment of its key; a held batch running a key sent again since
    [InlineData(8)] // a rerun sent to an executor of code "spare": the spare had died before it read the code it was given
    [InlineData(4)] // a run skipped on a cancel left over from an earlier run of its key, reported failed as cancelled
    [InlineData(28)] // an assembly asked of a client whose batches were all gone: the batches of other clients waited for ever
    public void Seeds_that_found_bugs_pass(int seed) => WorkerSimulation.RunSeed(seed, StepsPerRun);

    /// <summary>The shortest sequences those seeds shrank to, replayed step by step (they do not depend on the generator).</summary>
    [Theory]
    [InlineData("SendBatch(1379662799,61497087,532638534) SendBatch(384385166,921209318,2052955920) DeliverToWorker(1662778767,2035035283,263157300) "
        + "DeliverToWorker(23415212,319461354,603445893) ConnectExecutor(322757551,211620115,1062563731) EndFetch(567345045,636177596,716761675) "
        + "AnswerAssembly(705177999,1575844887,322410052) DeliverToExecutor(2013425278,1544427966,335171738) Cancel(526841425,1098662538,420943911) "
        + "DeliverToExecutor(2059479292,738370743,662347873) SendBatch(1471885787,1319126818,1721054166) TakeTask(1510834170,2023402780,219182258)")]
    [InlineData("SendBatch(1379662799,61497087,532638534) Cancel(2125508764,1464848243,1406361028) SendBatch(56569042,1903227280,485266100)")]
    [InlineData("DeliverToWorker(1212302048,966328757,1069802607) SendBatch(654865928,1487193179,2023098764) CrashExecutor(2034119135,1603951635,1037562313)")]
    [InlineData("SendBatch(212635637,801180008,356594215) DeliverToWorker(229780275,60450549,491059674) DeliverToWorker(1776544207,875195200,1559303953) "
        + "SendBatch(287689656,687126211,1960566517) AnswerAssembly(1142894523,1712077185,364789272) SendBatch(1571687281,1469962756,630580731) "
        + "DeliverToWorker(1816176444,396552308,938035150) DeliverToWorker(1195708618,617397957,1119101400) SendBatch(113528900,1316918666,450597006) "
        + "EndFetch(247367679,1175253317,93869216) Cancel(510405928,1377039913,610245999) AnswerAssembly(868460945,18793443,1485794148) "
        + "SendBatch(1019431726,1212666629,818755806) ConnectExecutor(1923228097,1593670540,2024145965) DeliverToExecutor(876327577,1565097305,623729387) "
        + "TakeTask(1575755920,582680516,929798472) TakeTask(570748320,207444669,1300189432)")]
    [InlineData("SendBatch(70967145,729471038,1147965833) DeliverToWorker(60179754,969834965,1050852122) DeliverToWorker(1285774033,1976460341,702912555) "
        + "AnswerAssembly(763061582,934481733,335712898) SendBatch(1063090230,298640438,949281196) DeliverToWorker(605588158,310535792,2129054269) "
        + "EndFetch(1883516666,1566465378,1018852370)")]
    public void Sequences_that_found_bugs_pass(string steps)
    {
        var (world, failure) = WorkerSimulation.Replay(WorkerStep.ParseAll(steps));
        Assert.True(failure is null, $"{failure?.Message}\n{string.Join("\n", world.Trace.TakeLast(60))}");
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
