using System.Diagnostics;
using Distributed.Hosting;

namespace Distributed.Benchmarks.Workloads;

/// <summary>The functions the workloads ship to the cluster, one instance each so that warm-up and measurement ship the same code.</summary>
internal static class Functions
{
    /// <summary>The trivial task: <c>x => x + 1</c>.</summary>
    public static readonly Func<int, int> Increment = x => x + 1;
}

/// <summary>
/// A local cluster (a center and workers of one thread each, as real processes on 127.0.0.1) and a
/// pool connected to it, warmed up so that code shipping and executor start-up are not measured.
/// </summary>
internal sealed class DistributedSession : IAsyncDisposable
{
    private readonly LocalCluster _cluster;

    private DistributedSession(LocalCluster cluster, Pool pool, ClusterProcess? supervisor = null)
    {
        _cluster = cluster;
        Pool = pool;
        Supervisor = supervisor;
    }

    /// <summary>The <c>dworker --nworkers N</c> process whose children are the workers, when it started so (<see cref="StartSupervisedAsync"/>).</summary>
    public ClusterProcess? Supervisor { get; }

    /// <summary>The connected pool.</summary>
    public Pool Pool { get; }

    /// <summary>Process id of the center (the <c>dcenter</c> process), e.g. to read its memory.</summary>
    public int CenterProcessId => _cluster.Center.Id;

    /// <summary>The cluster's processes, e.g. to kill a worker.</summary>
    public LocalCluster Cluster => _cluster;

    /// <summary>Workers in the cluster.</summary>
    public int Workers => Supervisor is null ? _cluster.Workers.Count : _supervisedWorkers;
    private int _supervisedWorkers;

    /// <summary>
    /// Like <see cref="StartAsync"/>, but the workers are the children of one <c>dworker --nworkers</c>
    /// supervisor (which starts a worker that dies again), not processes of the LocalCluster.
    /// </summary>
    public static async Task<DistributedSession> StartSupervisedAsync(int workers, bool tls, CancellationToken cancellation)
    {
        var watch = Stopwatch.StartNew();
        var cluster = await LocalCluster.StartAsync(workers: 0, threadsPerWorker: 1, cancellation: cancellation, secure: tls);
        ClusterProcess? supervisor = null;
        try
        {
            supervisor = ClusterProcess.Start(AppContext.BaseDirectory, "dworker",
                [cluster.Address, "--nworkers", workers.ToString(System.Globalization.CultureInfo.InvariantCulture), "--nthreads", "1"], cluster.ClientEnvironment);
            var pool = await cluster.ConnectAsync(cancellation: cancellation);
            while (pool.Workers().Count < workers)
            {
                if (supervisor.HasExited || watch.Elapsed > TimeSpan.FromMinutes(2))
                    throw new InvalidOperationException($"the supervisor's {workers} workers did not register: {string.Join(Environment.NewLine, supervisor.Output)}");
                await Task.Delay(50, cancellation);
            }
            ResultWriter.Log($"cluster at {cluster.Address} with {workers} supervised workers (TLS {(tls ? "on" : "off")}) started in {watch.Elapsed.TotalSeconds:0.0} s");
            var session = new DistributedSession(cluster, pool, supervisor) { _supervisedWorkers = workers };
            await session.WarmUpAsync(cancellation);
            return session;
        }
        catch
        {
            if (supervisor is not null) await supervisor.StopAsync(TimeSpan.FromSeconds(30));
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts the cluster (every connection mutual TLS when <paramref name="tls"/>), connects, and warms up with a small Map on every worker.</summary>
    public static async Task<DistributedSession> StartAsync(int workers, bool tls, CancellationToken cancellation)
    {
        var watch = Stopwatch.StartNew();
        var cluster = await LocalCluster.StartAsync(workers: workers, threadsPerWorker: 1, cancellation: cancellation, secure: tls);
        ResultWriter.Log($"cluster at {cluster.Address} (TLS {(tls ? "on" : "off")}) started in {watch.Elapsed.TotalSeconds:0.0} s");
        try
        {
            watch.Restart();
            var pool = await cluster.ConnectAsync(cancellation: cancellation);
            ResultWriter.Log($"pool connected in {watch.Elapsed.TotalSeconds:0.0} s");
            var session = new DistributedSession(cluster, pool);
            watch.Restart();
            await session.WarmUpAsync(cancellation);
            ResultWriter.Log($"warmed up in {watch.Elapsed.TotalSeconds:0.0} s");
            return session;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Ships the benchmark's assembly and starts the executors on every worker: a Map spread over
    /// all of them, then a Gather of its results, which the measurements then do not pay for.
    /// </summary>
    private async Task WarmUpAsync(CancellationToken cancellation)
    {
        for (var round = 0; round < 3; round++)
        {
            var warm = await Pool.MapAsync(Functions.Increment, Enumerable.Range(0, 2_000), cancellation);
            var values = await Pool.GatherAsync(warm, cancellation);
            if (values.Where((v, i) => v != i + 1).Any()) throw new InvalidOperationException("The warm-up Map computed wrong values.");
            Pool.Release(warm);
            var used = warm.Select(r => r.Location?.Worker).Distinct().Count();
            if (used >= Workers) return;
        }
        ResultWriter.Log($"warning: the warm-up Map did not reach all {Workers} workers");
    }

    /// <summary>Disconnects and stops the cluster's processes by id.</summary>
    public async ValueTask DisposeAsync()
    {
        try { await Pool.DisposeAsync(); }
        finally
        {
            if (Supervisor is not null) await Supervisor.StopAsync(TimeSpan.FromSeconds(30));
            await _cluster.DisposeAsync();
        }
    }
}
