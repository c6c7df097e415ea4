using System.CommandLine;
using Distributed.Benchmarks;
using Distributed.Benchmarks.Baselines;

// The benchmark of DESIGN.md: prints one JSON object per line on standard output, each figure with
// its baseline beside it, for this repository's cluster and for dask.distributed; progress and logs
// go to standard error. Run it in Release:
//   dotnet run -c Release --project src/Distributed.Benchmarks [-- --only map,roundtrip --tasks 100000]

var onlyOption = new Option<string>("--only")
{
    Description = $"Workloads to run, comma-separated: {string.Join(", ", Workload.All)} (default: all).",
};
var systemsOption = new Option<string>("--systems")
{
    Description = $"Systems to run them on, comma-separated: {string.Join(", ", SystemUnderTest.All)} (default: all).",
};
var tasksOption = new Option<int>("--tasks") { Description = "Tasks in the Map throughput workload.", DefaultValueFactory = _ => 100_000 };
var daskTasksOption = new Option<int?>("--dask-tasks") { Description = "Tasks in dask's Map throughput workload (default: --tasks)." };
var roundTripsOption = new Option<int>("--roundtrips") { Description = "Timed Apply(...).Get() round trips per run (--repeats runs).", DefaultValueFactory = _ => 1_000 };
var transferOption = new Option<int>("--transfer-mb") { Description = "Size of the array moved between workers, in MB.", DefaultValueFactory = _ => 200 };
var repeatsOption = new Option<int>("--repeats")
{
    Description = $"Timed runs of every workload and baseline, after a warm-up; each figure is their median (at least {Statistics.MinimumRuns}).",
    DefaultValueFactory = _ => Statistics.MinimumRuns,
};
var graphTasksOption = new Option<string>("--graph-tasks") { Description = "Sizes of the tree reduction graphs, in tasks, comma-separated.", DefaultValueFactory = _ => "10000,100000" };
var daskGraphTasksOption = new Option<int>("--dask-graph-tasks") { Description = "Size of dask's tree reduction graph, in tasks.", DefaultValueFactory = _ => 10_000 };
var workersOption = new Option<int>("--workers") { Description = "Workers in each local cluster (one thread each).", DefaultValueFactory = _ => 2 };
var chaosRunsOption = new Option<int>("--chaos-runs") { Description = "Runs of each chaos computation, each with and without a worker killed mid-run.", DefaultValueFactory = _ => 20 };
var chaosSeedOption = new Option<int>("--chaos-seed") { Description = "Seed of the chaos workload's choice of which worker to kill, and when.", DefaultValueFactory = _ => 1 };
var chaosReplaceOption = new Option<bool>("--chaos-replace") { Description = "In the chaos runs, start a new worker as soon as one is killed (what dask's nanny does)." };
var chaosSupervisedOption = new Option<bool>("--chaos-supervised") { Description = "In the chaos runs, the workers run under one `dworker --nworkers N` supervisor, which starts the killed one again itself." };
var idleSecondsOption = new Option<int>("--idle-seconds") { Description = "How long the idle workload measures the idle cluster's CPU, in seconds.", DefaultValueFactory = _ => 30 };
var idleSettleOption = new Option<int>("--idle-settle") { Description = "Seconds the idle workload lets the cluster be quiet before it measures.", DefaultValueFactory = _ => 10 };
var tlsOption = new Option<string>("--tls")
{
    Description = "Run this repository's cluster with TLS on (the default), off, or both in turn (each figure labelled with \"tls\" in its params).",
    DefaultValueFactory = _ => "on",
};
tlsOption.AcceptOnlyFromAmong("on", "off", "both");
var pythonOption = new Option<string>("--python") { Description = "Python that runs the dask side.", DefaultValueFactory = _ => "/usr/bin/python3" };

var root = new RootCommand("Benchmarks Distributed against plain baselines and against dask.distributed; prints JSON lines.")
{
    onlyOption, systemsOption, tasksOption, daskTasksOption, roundTripsOption, transferOption, repeatsOption,
    graphTasksOption, daskGraphTasksOption, workersOption, pythonOption, chaosRunsOption, chaosSeedOption, chaosReplaceOption, chaosSupervisedOption, idleSecondsOption, idleSettleOption, tlsOption,
};

var sink = new Command(LoopbackSink.Verb, "The far end of the loopback TCP baselines (started by the benchmark itself).") { Hidden = true };
sink.SetAction(_ => LoopbackSink.Run());
root.Subcommands.Add(sink);

root.SetAction(async (parse, cancellation) =>
{
    try
    {
        var tasks = parse.GetValue(tasksOption);
        var options = new BenchmarkOptions(
            Workloads: Names(parse.GetValue(onlyOption), Workload.All, "--only"),
            Systems: Names(parse.GetValue(systemsOption), SystemUnderTest.All, "--systems"),
            Tasks: Positive(tasks, "--tasks"),
            DaskTasks: Positive(parse.GetValue(daskTasksOption) ?? tasks, "--dask-tasks"),
            RoundTrips: Positive(parse.GetValue(roundTripsOption), "--roundtrips"),
            TransferMegabytes: Positive(parse.GetValue(transferOption), "--transfer-mb"),
            Repeats: AtLeast(Statistics.MinimumRuns, parse.GetValue(repeatsOption), "--repeats"),
            GraphTasks: Sizes(parse.GetValue(graphTasksOption), "--graph-tasks"),
            DaskGraphTasks: Positive(parse.GetValue(daskGraphTasksOption), "--dask-graph-tasks"),
            Workers: Positive(parse.GetValue(workersOption), "--workers"),
            Python: parse.GetValue(pythonOption)!,
            ChaosRuns: Positive(parse.GetValue(chaosRunsOption), "--chaos-runs"),
            ChaosSeed: parse.GetValue(chaosSeedOption),
            ChaosReplace: parse.GetValue(chaosReplaceOption),
            IdleSeconds: Positive(parse.GetValue(idleSecondsOption), "--idle-seconds"),
            IdleSettleSeconds: NotNegative(parse.GetValue(idleSettleOption), "--idle-settle"),
            Tls: parse.GetValue(tlsOption) switch { "off" => [false], "both" => [true, false], _ => [true] })
        {
            ChaosSupervised = parse.GetValue(chaosSupervisedOption),
        };
        if (options.ChaosReplace && options.ChaosSupervised)
        {
            Console.Error.WriteLine("error: --chaos-replace and --chaos-supervised are two ways of replacing the killed worker: choose one.");
            return 2;
        }
        // Standard output carries the results only: anything else written to it in this process
        // (the client's Akka logging, which goes to Console.Out) is sent to standard error instead.
        var results = new ResultWriter(Console.Out);
        Console.SetOut(Console.Error);
        return await BenchmarkRunner.RunAsync(options, results, cancellation);
    }
    catch (ArgumentException e)
    {
        Console.Error.WriteLine($"error: {e.Message}");
        return 2;
    }
});
return await root.Parse(args).InvokeAsync();

// A comma-separated selection of known names; a benchmark's full name (map_throughput) selects its workload.
static HashSet<string> Names(string? list, IReadOnlyList<string> known, string option)
{
    if (string.IsNullOrWhiteSpace(list)) return [.. known];
    var names = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        .Select(n => n.ToLowerInvariant().Split('_')[0])
        .ToHashSet();
    var unknown = names.Except(known).ToList();
    if (unknown.Count > 0) throw new ArgumentException($"{option}: unknown {string.Join(", ", unknown)}; known: {string.Join(", ", known)}.");
    return names;
}

// A comma-separated list of sizes, each at least 1.
static List<int> Sizes(string? list, string option)
{
    var sizes = (list ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        .Select(item => int.TryParse(item, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var size)
            ? Positive(size, option)
            : throw new ArgumentException($"{option}: '{item}' is not a whole number."))
        .ToList();
    return sizes.Count > 0 ? sizes : throw new ArgumentException($"{option} needs at least one size.");
}

static int Positive(int value, string option) => AtLeast(1, value, option);

static int AtLeast(int minimum, int value, string option) =>
    value >= minimum ? value : throw new ArgumentException($"{option} must be at least {minimum}.");

static int NotNegative(int value, string option) =>
    value >= 0 ? value : throw new ArgumentException($"{option} must not be negative.");
