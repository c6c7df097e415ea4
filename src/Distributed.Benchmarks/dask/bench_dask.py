"""The dask.distributed side of the benchmark of Distributed.

Runs the same workloads as the C# benchmark on a distributed.LocalCluster of processes (2 workers
of 1 thread, on 127.0.0.1) and prints one JSON object per line on standard output, each figure
with its plain-Python baseline; logs go to standard error. The C# benchmark runs this script and
relays its lines, but it also runs on its own:

    /usr/bin/python3 bench_dask.py [--only map,roundtrip,transfer,graph,arraysum,chaos] [--tasks 100000] ...
"""

import argparse
import json
import os
import random
import signal
import statistics
import sys
import threading
import time
import warnings

import numpy as np

import baselines

SYSTEM = "dask.distributed"
WORKLOADS = ("map", "roundtrip", "transfer", "graph", "arraysum", "chaos")
GRAPH_WARM_UP_TASKS = 5_000
ARRAY_SUM_ELEMENTS = 200_000_000
ARRAY_SUM_CHUNK = 2_000_000
ROUND_TRIP_WARM_UP = 200
MAP_WARM_UP_TASKS = 1_000
MINIMUM_RUNS = 5  # every figure is the median of at least this many timed runs, as on the C# side
CHAOS_TASKS = 200
CHAOS_TASK_SECONDS = 0.05
CHAOS_RUN_TIMEOUT = 120
CHAOS_EARLIEST_KILL, CHAOS_LATEST_KILL = 0.2, 0.8


def log(message):
    print(f"[bench_dask {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def emit(benchmark, value, unit, baseline_name, baseline_value, params):
    """One result line, in the same shape as the C# benchmark's."""
    line = {
        "benchmark": benchmark,
        "system": SYSTEM,
        "value": _round(value),
        "unit": unit,
        "baseline": {"name": baseline_name, "value": _round(baseline_value), "unit": unit},
        "params": params,
    }
    print(json.dumps(line), flush=True)


def summarize(runs, prefix=""):
    """The median of the runs (the figure, never the best), and the params that go with it: the
    statistic, every run, min and max, each name after `prefix` ("baseline_" for the baseline's).
    The same convention as the C# side's Summary."""
    return statistics.median(runs), {
        f"{prefix}statistic": f"median of {len(runs)} after a warm-up",
        f"{prefix}runs": [_round(r) for r in runs],
        f"{prefix}min": _round(min(runs)),
        f"{prefix}max": _round(max(runs)),
    }


def emit_summary(benchmark, runs, unit, baseline_name, baseline_runs, params):
    """One result line whose value is the median of `runs` and its baseline's the median of `baseline_runs`."""
    value, spread = summarize(runs)
    baseline_value, baseline_spread = summarize(baseline_runs, "baseline_")
    emit(benchmark, value, unit, baseline_name, baseline_value, {**params, **spread, **baseline_spread})


def emit_not_run(benchmark, status, reason):
    print(json.dumps({"benchmark": benchmark, "system": SYSTEM, "status": status, "reason": reason}), flush=True)


def _round(value):
    return round(value, 1 if abs(value) >= 100 else 4)


def percentile(values, percent):
    """Nearest-rank percentile, as the C# side computes it."""
    ordered = sorted(values)
    rank = -(-percent * len(ordered) // 100)
    return ordered[min(max(int(rank) - 1, 0), len(ordered) - 1)]


# ----- the tasks dask runs (defined here, so cloudpickle ships them by value) -----

def inc(x):
    return x + 1


def add(a, b):
    return a + b


def slow_inc(x):
    time.sleep(CHAOS_TASK_SECONDS)
    return x + 1


def random_array(count, seed):
    return np.random.default_rng(seed).random(count)


# ----- workloads -----

def map_throughput(client, args, versions):
    from distributed import wait

    log(f"map: a warm-up of {MAP_WARM_UP_TASKS} tasks, then {args.repeats} timed maps of {args.tasks} tasks")
    warm = client.map(inc, range(MAP_WARM_UP_TASKS), pure=False)
    if client.gather(warm)[-1] != MAP_WARM_UP_TASKS:
        raise RuntimeError("warm-up map computed wrong values")
    client.cancel(warm)
    del warm

    seconds = []
    for run in range(args.repeats):
        # pure=False: fresh keys, so that no run finds the previous run's results still on the cluster
        start = time.perf_counter()
        futures = client.map(inc, range(args.tasks), pure=False)
        wait(futures)
        elapsed = time.perf_counter() - start
        sample = client.gather([futures[0], futures[-1]])
        if sample != [1, args.tasks]:
            raise RuntimeError(f"map computed wrong values: {sample}")
        client.cancel(futures)
        del futures
        seconds.append(elapsed)
        log(f"map: run {run + 1}: {args.tasks / elapsed:.0f} tasks/s")

    log("map: multiprocessing.Pool baseline")
    baseline = baselines.pool_map_throughputs(args.tasks, args.workers, args.repeats)
    emit_summary("map_throughput", [args.tasks / s for s in seconds], "tasks/s",
                 f"multiprocessing.Pool({args.workers}).map chunksize=1", baseline,
                 {"tasks": args.tasks, "workers": args.workers, "threads_per_worker": 1,
                  "warm_up": f"a map of {MAP_WARM_UP_TASKS} tasks", "seconds": [round(s, 3) for s in seconds], **versions})


def round_trip(client, args, versions):
    log(f"roundtrip: {ROUND_TRIP_WARM_UP} warm-up and {args.repeats} runs of {args.roundtrips} timed submit(inc, i).result()")

    def timed(first, count):
        micros = []
        for i in range(first, first + count):
            start = time.perf_counter()
            value = client.submit(inc, i, pure=False).result()
            elapsed = time.perf_counter() - start
            if value != i + 1:
                raise RuntimeError(f"submit(inc, {i}) returned {value}")
            micros.append(elapsed * 1e6)
        return micros

    timed(-ROUND_TRIP_WARM_UP, ROUND_TRIP_WARM_UP)
    runs = []
    for run in range(args.repeats):
        runs.append(timed(run * args.roundtrips, args.roundtrips))
        log(f"roundtrip: run {run + 1}: median {statistics.median(runs[-1]):.0f} us, p99 {percentile(runs[-1], 99):.0f} us")

    log("roundtrip: multiprocessing.Pool baseline")
    baseline = baselines.pool_apply_round_trips(args.roundtrips, ROUND_TRIP_WARM_UP, args.workers, args.repeats)
    every = [m for micros in runs for m in micros]
    params = {"round_trips_per_run": args.roundtrips, "warm_up": f"{ROUND_TRIP_WARM_UP} round trips", "workers": args.workers,
              "mean_us": round(statistics.fmean(every), 1), "slowest_us": round(max(every), 1), **versions}
    name = f"multiprocessing.Pool({args.workers}).apply"
    # each figure is the median over the runs of that run's statistic
    emit_summary("roundtrip_median", [statistics.median(m) for m in runs], "us",
                 name, [statistics.median(m) for m in baseline], params)
    emit_summary("roundtrip_p99", [percentile(m, 99) for m in runs], "us",
                 name, [percentile(m, 99) for m in baseline], params)


def transfer(client, args, versions):
    from distributed import wait

    count = args.transfer_mb * 1_000_000 // 8
    nbytes = count * 8
    workers = sorted(client.scheduler_info()["workers"])
    if len(workers) < 2:
        raise RuntimeError("transfer needs at least two workers")
    source, target = workers[0], workers[1]
    log(f"transfer: {args.repeats} x {nbytes / 1e6:.0f} MB from {source} to {target}")

    seconds = []
    for run in range(-1, args.repeats):  # run -1 warms up the path between the workers with a small array
        size = count if run >= 0 else min(count, 1_000_000)
        future = client.submit(random_array, size, run + 2, workers=[source], pure=False)
        wait(future)
        holders = set(client.who_has(future)[future.key])
        if holders != {source}:
            raise RuntimeError(f"expected the array on {source} only, found it on {holders}")
        start = time.perf_counter()
        client.replicate([future], n=2)
        elapsed = time.perf_counter() - start
        holders = set(client.who_has(future)[future.key])
        if target not in holders:
            raise RuntimeError(f"replicate returned but {target} does not hold the array")
        client.cancel([future])
        del future
        if run < 0:
            continue
        seconds.append(elapsed)
        log(f"transfer: run {run + 1}: {nbytes / 1e6 / elapsed:.0f} MB/s")

    log("transfer: loopback TCP baseline")
    baseline = baselines.loopback_copy_seconds(random_array(count, 1), args.repeats)
    params = {"bytes": nbytes, "element_type": "float64",
              "warm_up": f"a transfer of {min(count, 1_000_000) * 8 / 1e6:.0f} MB",
              "seconds": [round(s, 4) for s in seconds], "baseline_seconds": [round(s, 4) for s in baseline],
              "method": "Client.replicate(n=2)", **versions}
    emit_summary("transfer_median", [nbytes / 1e6 / s for s in seconds], "MB/s",
                 "loopback TCP copy, 2 processes (Python sockets)", [nbytes / 1e6 / s for s in baseline], params)


def tree_reduction(tasks, tag, leaf=inc):
    """The C# benchmark's graph: (inc, i) leaves, pairwise (add, a, b) levels to one root.

    Returns the graph, its root key, the root's value and the number of tasks. Keys carry the tag,
    so that each run computes new keys rather than finding an earlier run's results.
    """
    leaves = (tasks + 1) // 2
    graph = {}
    level = []
    for i in range(leaves):
        key = f"inc-{i}-{tag}"
        graph[key] = (leaf, i)
        level.append(key)
    depth = 1
    while len(level) > 1:
        above = []
        for j in range(0, len(level) - 1, 2):
            key = f"add-{depth}-{j // 2}-{tag}"
            graph[key] = (add, level[j], level[j + 1])
            above.append(key)
        if len(level) % 2:  # the odd one out joins the next level as it is
            above.append(level[-1])
        level = above
        depth += 1
    return graph, level[0], leaves * (leaves + 1) // 2, 2 * leaves - 1


def graph_seconds(get, tasks, runs, tag):
    """Seconds of each of `runs` runs of the tree reduction with `get`, each run checked."""
    seconds = []
    for run in range(runs):
        graph, root, expected, _ = tree_reduction(tasks, f"{tag}{run}")
        start = time.perf_counter()
        value = get(graph, root)
        seconds.append(time.perf_counter() - start)
        if value != expected:
            raise RuntimeError(f"the tree reduction on {tag} gave {value}, expected {expected}")
    return seconds


def graph_throughput(client, args, versions):
    import dask
    import dask.threaded

    tasks = 2 * ((args.graph_tasks + 1) // 2) - 1  # as tree_reduction counts them
    warm_up = min(GRAPH_WARM_UP_TASKS, args.graph_tasks)
    log(f"graph: warm-up tree of {warm_up} tasks, then {args.repeats} runs of {tasks} tasks")
    graph_seconds(client.get, warm_up, 1, "warm-distributed")
    seconds = graph_seconds(client.get, args.graph_tasks, args.repeats, "distributed")
    log(f"graph: median {tasks / statistics.median(seconds):.0f} tasks/s on dask.distributed; dask's threaded scheduler")
    graph_seconds(dask.threaded.get, warm_up, 1, "warm-threaded")
    threaded = graph_seconds(dask.threaded.get, args.graph_tasks, args.repeats, "threaded")
    emit_summary("graph_throughput", [tasks / s for s in seconds], "tasks/s",
                 "dask.threaded.get (1 process)", [tasks / s for s in threaded],
                 {"graph": "tree reduction: (inc, i) leaves, pairwise (add, a, b) to one root",
                  "tasks": tasks, "workers": args.workers, "threads_per_worker": 1, "method": "Client.get",
                  "warm_up": f"a graph of {warm_up} tasks",
                  "seconds": [round(s, 3) for s in seconds], "baseline_seconds": [round(s, 3) for s in threaded],
                  "dask": dask.__version__, **versions})


def array_sum(client, args, versions):
    import dask
    import dask.array as da
    from dask.graph_manipulation import clone

    n, chunk = ARRAY_SUM_ELEMENTS, ARRAY_SUM_CHUNK
    expected = n * (n - 1) // 2
    total = da.arange(n, chunks=chunk, dtype="int64").sum()
    graph_tasks = len(total.__dask_graph__())
    log(f"arraysum: da.arange({n}, chunks={chunk}).sum(), {graph_tasks} tasks, {args.repeats} runs each")

    def timed_seconds(scheduler):
        seconds = []
        for run in range(-1, args.repeats):  # run -1 warms up
            # a clone has new keys: a run must not find the previous run's sum still on the cluster
            fresh = clone(total, seed=f"{scheduler}-{run}")
            with warnings.catch_warnings():
                # the threaded baseline runs beside the client on purpose: dask's warning says so
                warnings.filterwarnings("ignore", "Running on a single-machine scheduler", UserWarning)
                start = time.perf_counter()
                value = fresh.compute(scheduler=scheduler)
                elapsed = time.perf_counter() - start
            if value != expected:
                raise RuntimeError(f"the array sum on {scheduler} gave {value}, expected {expected}")
            if run >= 0:
                seconds.append(elapsed)
        return seconds

    seconds = timed_seconds(client)
    threaded = timed_seconds("threads")
    emit_summary("arraysum_seconds", seconds, "s", "dask threaded scheduler (1 process)", threaded,
                 {"expression": f"da.arange({n:_}, chunks={chunk:_}).sum()", "elements": n, "dtype": "int64",
                  "chunks": n // chunk, "graph_tasks": graph_tasks, "workers": args.workers, "threads_per_worker": 1,
                  "warm_up": "one run", "dask": dask.__version__, **versions})


# ----- chaos: the C# chaos workload's runs, with a worker process killed mid-run -----

def chaos_compute(client, kind, tag):
    """One checked run of the chaos computation `kind` ("map" or "get"); its seconds to result."""
    from distributed import wait

    start = time.perf_counter()
    if kind == "map":
        futures = client.map(slow_inc, range(CHAOS_TASKS), key=[f"slow-{tag}-{i}" for i in range(CHAOS_TASKS)])
        wait(futures, timeout=CHAOS_RUN_TIMEOUT)
        values = client.gather(futures)
        if values != [i + 1 for i in range(CHAOS_TASKS)]:
            raise RuntimeError("the chaos map computed wrong values")
    else:
        graph, root, expected, _ = tree_reduction(2 * CHAOS_TASKS - 1, tag, slow_inc)
        value = client.get(graph, root, sync=False).result(timeout=CHAOS_RUN_TIMEOUT)
        if value != expected:
            raise RuntimeError(f"the chaos tree reduction gave {value}, expected {expected}")
    return time.perf_counter() - start


def chaos(args, versions):
    """As the C# side: per run and computation a fresh cluster, a no-kill run, then a run while one
    worker process, picked at random, gets SIGKILL at 20-80% of that no-kill time. The nanny that
    dask's LocalCluster runs each worker under restarts it, as it does by default. Detection is the
    scheduler's own remove_worker callback (the scheduler runs in this process) minus the kill time."""
    from distributed import Client, LocalCluster
    from distributed.diagnostics.plugin import SchedulerPlugin

    class WorkerRemovals(SchedulerPlugin):
        def __init__(self):
            self.removed = {}

        def remove_worker(self, scheduler, worker):
            self.removed.setdefault(worker, time.time())

    if args.workers < 2:
        emit_not_run("chaos", "skipped", "chaos needs at least 2 workers: one to kill, one to finish the work.")
        return
    rng = random.Random(args.chaos_seed)
    kinds = ("map", "get")
    tallies = {k: {"no_kill": [], "kill": [], "added": [], "detection_ms": [], "kill_after": [],
                   "kill_failures": 0, "no_kill_failures": 0, "mid_run": 0, "first_error": None} for k in kinds}
    log(f"chaos: {args.chaos_runs} runs of map and get, fresh clusters of {args.workers} workers x 1 thread, seed {args.chaos_seed}")
    for run in range(1, args.chaos_runs + 1):
        for kind in kinds:
            tally = tallies[kind]
            victim_index = rng.randrange(args.workers)
            fraction = CHAOS_EARLIEST_KILL + rng.random() * (CHAOS_LATEST_KILL - CHAOS_EARLIEST_KILL)
            label = f"chaos {kind} {run}/{args.chaos_runs}"

            def failed(killed, error):
                tally["kill_failures" if killed else "no_kill_failures"] += 1
                tally["first_error"] = tally["first_error"] or f"run {run}: {type(error).__name__}: {error}"
                log(f"{label}: {'kill' if killed else 'no kill'}: FAILED: {error!r}")

            counted = {"no_kill": False, "kill": False}
            try:
                with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", scheduler_port=0, dashboard_address=None) as cluster, \
                        Client(cluster) as client:
                    client.wait_for_workers(args.workers)
                    if client.gather(client.map(inc, range(200), pure=False))[-1] != 200:
                        raise RuntimeError("the warm-up map computed wrong values")
                    removals = WorkerRemovals()
                    cluster.scheduler.add_plugin(removals, name=f"removals-{run}-{kind}")
                    no_kill = None
                    counted["no_kill"] = True
                    try:
                        no_kill = chaos_compute(client, kind, f"{run}-nokill")
                        tally["no_kill"].append(no_kill)
                        log(f"{label}: no kill: correct in {no_kill:.2f} s")
                    except Exception as error:
                        failed(False, error)
                    expected = no_kill if no_kill is not None else CHAOS_TASKS * CHAOS_TASK_SECONDS / args.workers
                    kill_after = expected * fraction
                    pids = client.run(os.getpid)
                    victim = sorted(pids)[victim_index]
                    killed_at = []

                    def kill():
                        killed_at.append(time.time())
                        os.kill(pids[victim], signal.SIGKILL)

                    timer = threading.Timer(kill_after, kill)
                    counted["kill"] = True
                    timer.start()
                    try:
                        seconds = chaos_compute(client, kind, f"{run}-kill")
                        timer.cancel()
                        tally["kill"].append(seconds)
                        if no_kill is not None:
                            tally["added"].append(seconds - no_kill)
                        log(f"{label}: worker {victim_index} killed at {kill_after:.2f} s: correct in {seconds:.2f} s")
                    except Exception as error:
                        timer.cancel()
                        failed(True, error)
                    tally["kill_after"].append(kill_after)
                    if killed_at:
                        tally["mid_run"] += 1
                        deadline = time.time() + 30
                        while victim not in removals.removed and time.time() < deadline:
                            time.sleep(0.01)
                        if victim in removals.removed:
                            tally["detection_ms"].append((removals.removed[victim] - killed_at[0]) * 1000)
            except Exception as error:  # the cluster (or this script) failed: the runs not yet counted fail
                for killed in (False, True):
                    if not counted["kill" if killed else "no_kill"]:
                        failed(killed, error)

    for kind in kinds:
        t = tallies[kind]
        runs = args.chaos_runs
        common = {"tasks": CHAOS_TASKS if kind == "map" else 2 * CHAOS_TASKS - 1, "task_ms": CHAOS_TASK_SECONDS * 1000,
                  "workers": args.workers, "threads_per_worker": 1, "runs": runs, "seed": args.chaos_seed,
                  "procedure": "per run a fresh LocalCluster (processes, nannies): no kill, then one random worker process SIGKILLed "
                               "at a random 20-80% of that no-kill time (its nanny restarts it)",
                  "first_error": t["first_error"], **versions}
        line = {"benchmark": f"chaos_{kind}_correct", "system": SYSTEM, "value": runs - t["kill_failures"],
                "unit": f"runs correct of {runs}",
                "baseline": {"name": "the same runs with no kill", "value": runs - t["no_kill_failures"], "unit": f"runs correct of {runs}"},
                "params": {**common, "killed_mid_run": t["mid_run"]}}
        print(json.dumps(line), flush=True)
        if t["kill"] and t["no_kill"]:
            emit(f"chaos_{kind}_seconds", statistics.median(t["kill"]), "s",
                 "the same computation with no kill, on the same fresh cluster, median", statistics.median(t["no_kill"]),
                 {**common, "max_s": round(max(t["kill"]), 3), "baseline_max_s": round(max(t["no_kill"]), 3),
                  "seconds": [round(s, 3) for s in t["kill"]], "baseline_seconds": [round(s, 3) for s in t["no_kill"]],
                  "kill_after_s": [round(s, 3) for s in t["kill_after"]]})
        if t["added"]:
            print(json.dumps({"benchmark": f"chaos_{kind}_added", "system": SYSTEM, "value": _round(statistics.median(t["added"])),
                              "unit": "s", "params": {**common, "max_s": round(max(t["added"]), 3),
                                                      "added_seconds": [round(s, 3) for s in t["added"]]}}), flush=True)
        if t["detection_ms"]:
            print(json.dumps({"benchmark": f"chaos_{kind}_detection", "system": SYSTEM,
                              "value": _round(statistics.median(t["detection_ms"])), "unit": "ms",
                              "params": {**common, "measure": "scheduler's remove_worker callback time - kill time (same process)",
                                         "max_ms": round(max(t["detection_ms"]), 1),
                                         "detection_ms": [round(s, 1) for s in t["detection_ms"]]}}), flush=True)


RUNNERS = {"map": map_throughput, "roundtrip": round_trip, "transfer": transfer,
           "graph": graph_throughput, "arraysum": array_sum, "chaos": chaos}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(WORKLOADS), help="comma-separated workloads")
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--roundtrips", type=int, default=1_000, help="timed round trips per run")
    parser.add_argument("--transfer-mb", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=MINIMUM_RUNS,
                        help=f"timed runs of every workload and baseline after a warm-up (at least {MINIMUM_RUNS}); each figure is their median")
    parser.add_argument("--graph-tasks", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chaos-runs", type=int, default=20)
    parser.add_argument("--chaos-seed", type=int, default=1)
    args = parser.parse_args()
    if args.repeats < MINIMUM_RUNS:
        parser.error(f"--repeats must be at least {MINIMUM_RUNS}")
    selected = [w for w in WORKLOADS if w in {n.strip() for n in args.only.split(",")}]

    try:
        import distributed
    except ImportError as error:
        emit_not_run("dask", "skipped", f"dask.distributed is not importable: {error}")
        return 0
    versions = {"dask_distributed": distributed.__version__, "python": sys.version.split()[0]}

    failures = 0
    # chaos starts clusters of its own, after the shared one is stopped
    standalone = [name for name in selected if name == "chaos"]
    selected = [name for name in selected if name != "chaos"]
    if selected:
        failures += run_on_shared_cluster(selected, args, versions)
    for name in standalone:
        try:
            RUNNERS[name](args, versions)
        except Exception as error:
            log(f"{name} failed: {error!r}")
            failures += 1
    return 1 if failures else 0


def run_on_shared_cluster(selected, args, versions):
    from distributed import Client, LocalCluster

    log(f"starting a dask LocalCluster of {args.workers} worker processes x 1 thread")
    failures = 0
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      host="127.0.0.1", scheduler_port=0, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        client.wait_for_workers(args.workers)
        for name in selected:
            try:
                RUNNERS[name](client, args, versions)
            except Exception as error:  # report and go on with the other workloads
                log(f"{name} failed: {error!r}")
                emit_not_run(name, "failed", f"{type(error).__name__}: {error}")
                failures += 1
        log("stopping the dask cluster")
    return failures


if __name__ == "__main__":
    sys.exit(main())
