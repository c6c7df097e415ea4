namespace Distributed.Benchmarks;

/// <summary>The workloads the benchmark knows, by the names <c>--only</c> accepts.</summary>
public static class Workload
{
    /// <summary>Throughput of a Map of many trivial tasks.</summary>
    public const string Map = "map";

    /// <summary>Latency of one Apply(...).Get() round trip.</summary>
    public const string RoundTrip = "roundtrip";

    /// <summary>Moving a large array from one worker to another.</summary>
    public const string Transfer = "transfer";

    /// <summary>A tree reduction task graph computed with Get, and the center's memory per task.</summary>
    public const string Graph = "graph";

    /// <summary>A large value handed from a worker to its executor and back (a socket, or shared memory).</summary>
    public const string Handoff = "handoff";

    /// <summary>Summing a large generated array: DArray.Arange(200M, chunks: 2M).Sum(), and dask.array's equivalent.</summary>
    public const string ArraySum = "arraysum";

    /// <summary>A word count over a text file with Bag (cluster and threaded scheduler).</summary>
    public const string WordCount = "wordcount";

    /// <summary>A dataframe group-by over a 10,000,000-row CSV file.</summary>
    public const string CsvGroupBy = "groupby";

    /// <summary>The CPU an idle center and its workers (with their executors) burn, from /proc.</summary>
    public const string Idle = "idle";

    /// <summary>A Map and a graph Get, each run while a worker is killed mid-run, on fresh clusters of their own.</summary>
    public const string Chaos = "chaos";

    /// <summary>How long dcenter, dworker, a LocalCluster with its Pool, and the quickstart take to start.</summary>
    public const string Start = "start";

    /// <summary>Every workload, in the order they run.</summary>
    public static readonly IReadOnlyList<string> All = [Map, RoundTrip, Transfer, Handoff, Graph, ArraySum, WordCount, CsvGroupBy, Idle, Chaos, Start];
}

/// <summary>The systems compared, by the names <c>--systems</c> accepts.</summary>
public static class SystemUnderTest
{
    /// <summary>This repository's cluster.</summary>
    public const string Distributed = "distributed";

    /// <summary>Python's dask.distributed, run with <c>/usr/bin/python3</c>.</summary>
    public const string Dask = "dask";

    /// <summary>How dask's results name their system (the <c>system</c> field of a result line).</summary>
    public const string DaskLabel = "dask.distributed";

    /// <summary>Every system, in the order they run.</summary>
    public static readonly IReadOnlyList<string> All = [Distributed, Dask];
}

/// <summary>What to run, and how big.</summary>
/// <param name="Workloads">The workloads to run (see <see cref="Workload"/>).</param>
/// <param name="Systems">The systems to run them on (see <see cref="SystemUnderTest"/>).</param>
/// <param name="Tasks">Tasks in the Map throughput workload.</param>
/// <param name="DaskTasks">Tasks in dask's Map throughput workload (dask is ~100× slower per task).</param>
/// <param name="RoundTrips">Timed round trips in each run of the latency workload.</param>
/// <param name="TransferMegabytes">Size of the array moved between workers, in MB (10⁶ bytes).</param>
/// <param name="Repeats">Timed runs of each workload and baseline after a warm-up, each figure their median (at least <see cref="Statistics.MinimumRuns"/>).</param>
/// <param name="GraphTasks">Sizes of the tree reduction graphs, in tasks, each run in turn.</param>
/// <param name="DaskGraphTasks">Size of dask's tree reduction graph, in tasks.</param>
/// <param name="Workers">Workers in the local cluster (one thread each).</param>
/// <param name="Python">The Python interpreter that runs the dask side.</param>
/// <param name="ChaosRuns">How many times the chaos workload runs each computation with and without a kill.</param>
/// <param name="ChaosSeed">Seed of the chaos workload's choices: which worker dies, and when.</param>
/// <param name="ChaosReplace">Whether the chaos workload starts a new worker as soon as it kills one (as dask's nanny restarts a killed worker).</param>
/// <param name="IdleSeconds">How long the idle workload measures the idle cluster's CPU, in seconds.</param>
/// <param name="IdleSettleSeconds">How long the idle workload lets the cluster be quiet before it measures, in seconds.</param>
/// <param name="Tls">The TLS settings this repository's cluster runs with, in turn: <c>true</c> (mutual TLS, the default), <c>false</c> (plain TCP), or both.</param>
public sealed record BenchmarkOptions(
    IReadOnlySet<string> Workloads,
    IReadOnlySet<string> Systems,
    int Tasks,
    int DaskTasks,
    int RoundTrips,
    int TransferMegabytes,
    int Repeats,
    IReadOnlyList<int> GraphTasks,
    int DaskGraphTasks,
    int Workers,
    string Python,
    int ChaosRuns,
    int ChaosSeed,
    bool ChaosReplace,
    int IdleSeconds,
    int IdleSettleSeconds,
    IReadOnlyList<bool> Tls)
{
    /// <summary>Whether the chaos workload's workers run under one <c>dworker --nworkers N</c> supervisor, which replaces the killed one.</summary>
    public bool ChaosSupervised { get; init; }

    /// <summary>Whether <paramref name="workload"/> runs on <paramref name="system"/>.</summary>
    public bool Runs(string workload, string system) => Workloads.Contains(workload) && Systems.Contains(system);

    /// <summary>Size of the transferred array in bytes, a whole number of doubles.</summary>
    public long TransferBytes => TransferMegabytes * 1_000_000L / sizeof(double) * sizeof(double);
}
