"""The dask.distributed side of the benchmark of Distributed.

Runs the same workloads as the C# benchmark on a distributed.LocalCluster of processes (2 workers
of 1 thread, on 127.0.0.1) and prints one JSON object per line on standard output, each figure
with its plain-Python baseline; logs go to standard error. The C# benchmark runs this script and
relays its lines, but it also runs on its own:

    /usr/bin/python3 bench_dask.py [--only map,roundtrip,transfer,graph,arraysum] [--tasks 100000] ...
"""

import argparse
import json
import statistics
import sys
import time
import warnings

import numpy as np

import baselines

SYSTEM = "dask.distributed"
WORKLOADS = ("map", "roundtrip", "transfer", "graph", "arraysum")
GRAPH_WARM_UP_TASKS = 5_000
ARRAY_SUM_ELEMENTS = 200_000_000
ARRAY_SUM_CHUNK = 2_000_000
ROUND_TRIP_WARM_UP = 200


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


def random_array(count, seed):
    return np.random.default_rng(seed).random(count)


# ----- workloads -----

def map_throughput(client, args, versions):
    from distributed import wait

    log(f"map: {args.tasks} tasks")
    warm = client.map(inc, range(1000), pure=False)
    if client.gather(warm)[-1] != 1000:
        raise RuntimeError("warm-up map computed wrong values")
    del warm

    start = time.perf_counter()
    futures = client.map(inc, range(args.tasks))
    wait(futures)
    elapsed = time.perf_counter() - start
    sample = client.gather([futures[0], futures[-1]])
    if sample != [1, args.tasks]:
        raise RuntimeError(f"map computed wrong values: {sample}")
    client.cancel(futures)
    del futures

    log("map: multiprocessing.Pool baseline")
    baseline = baselines.pool_map_throughput(args.tasks, args.workers)
    emit("map_throughput", args.tasks / elapsed, "tasks/s",
         f"multiprocessing.Pool({args.workers}).map chunksize=1", baseline,
         {"tasks": args.tasks, "workers": args.workers, "threads_per_worker": 1,
          "seconds": round(elapsed, 3), **versions})


def round_trip(client, args, versions):
    log(f"roundtrip: {ROUND_TRIP_WARM_UP} warm-up and {args.roundtrips} timed submit(inc, i).result()")
    micros = []
    for i in range(-ROUND_TRIP_WARM_UP, args.roundtrips):
        start = time.perf_counter()
        value = client.submit(inc, i, pure=False).result()
        elapsed = time.perf_counter() - start
        if value != i + 1:
            raise RuntimeError(f"submit(inc, {i}) returned {value}")
        if i >= 0:
            micros.append(elapsed * 1e6)

    log("roundtrip: multiprocessing.Pool baseline")
    baseline = baselines.pool_apply_round_trips(args.roundtrips, ROUND_TRIP_WARM_UP, args.workers)
    params = {"round_trips": args.roundtrips, "warm_up": ROUND_TRIP_WARM_UP, "workers": args.workers,
              "mean_us": round(statistics.fmean(micros), 1), "max_us": round(max(micros), 1), **versions}
    name = f"multiprocessing.Pool({args.workers}).apply"
    emit("roundtrip_median", statistics.median(micros), "us", name, statistics.median(baseline), params)
    emit("roundtrip_p99", percentile(micros, 99), "us", name, percentile(baseline, 99), params)


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
    rates = [nbytes / 1e6 / s for s in seconds]
    baseline_rates = [nbytes / 1e6 / s for s in baseline]
    params = {"bytes": nbytes, "element_type": "float64", "repeats": args.repeats,
              "seconds": [round(s, 4) for s in seconds], "baseline_seconds": [round(s, 4) for s in baseline],
              "method": "Client.replicate(n=2)", **versions}
    name = "loopback TCP copy, 2 processes (Python sockets)"
    emit("transfer_best", max(rates), "MB/s", name, max(baseline_rates), params)
    emit("transfer_median", statistics.median(rates), "MB/s", name, statistics.median(baseline_rates), params)


def tree_reduction(tasks, tag):
    """The C# benchmark's graph: (inc, i) leaves, pairwise (add, a, b) levels to one root.

    Returns the graph, its root key, the root's value and the number of tasks. Keys carry the tag,
    so that each run computes new keys rather than finding an earlier run's results.
    """
    leaves = (tasks + 1) // 2
    graph = {}
    level = []
    for i in range(leaves):
        key = f"inc-{i}-{tag}"
        graph[key] = (inc, i)
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


def best_graph_seconds(get, tasks, runs, tag):
    """Seconds of the best of `runs` runs of the tree reduction with `get`, each run checked."""
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
    best_graph_seconds(client.get, warm_up, 1, "warm-distributed")
    seconds = best_graph_seconds(client.get, args.graph_tasks, args.repeats, "distributed")
    log(f"graph: {tasks / min(seconds):.0f} tasks/s on dask.distributed; dask's threaded scheduler")
    best_graph_seconds(dask.threaded.get, warm_up, 1, "warm-threaded")
    threaded = best_graph_seconds(dask.threaded.get, args.graph_tasks, args.repeats, "threaded")
    emit("graph_throughput", tasks / min(seconds), "tasks/s",
         "dask.threaded.get (1 process)", tasks / min(threaded),
         {"graph": "tree reduction: (inc, i) leaves, pairwise (add, a, b) to one root",
          "tasks": tasks, "workers": args.workers, "threads_per_worker": 1, "method": "Client.get",
          "seconds": [round(s, 3) for s in seconds], "baseline_seconds": [round(s, 3) for s in threaded],
          "runs": f"best of {args.repeats}, after a warm-up graph of {warm_up} tasks",
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

    def best_seconds(scheduler):
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

    seconds = best_seconds(client)
    threaded = best_seconds("threads")
    emit("arraysum_seconds", min(seconds), "s", "dask threaded scheduler (1 process)", min(threaded),
         {"expression": f"da.arange({n:_}, chunks={chunk:_}).sum()", "elements": n, "dtype": "int64",
          "chunks": n // chunk, "graph_tasks": graph_tasks, "workers": args.workers, "threads_per_worker": 1,
          "seconds": [round(s, 3) for s in seconds], "baseline_seconds": [round(s, 3) for s in threaded],
          "runs": f"best of {args.repeats}, after a warm-up run", "dask": dask.__version__, **versions})


RUNNERS = {"map": map_throughput, "roundtrip": round_trip, "transfer": transfer,
           "graph": graph_throughput, "arraysum": array_sum}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(WORKLOADS), help="comma-separated workloads")
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--roundtrips", type=int, default=2_000)
    parser.add_argument("--transfer-mb", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--graph-tasks", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    selected = [w for w in WORKLOADS if w in {n.strip() for n in args.only.split(",")}]

    try:
        import distributed
        from distributed import Client, LocalCluster
    except ImportError as error:
        emit_not_run("dask", "skipped", f"dask.distributed is not importable: {error}")
        return 0
    versions = {"dask_distributed": distributed.__version__, "python": sys.version.split()[0]}

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
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
