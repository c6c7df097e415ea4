using Distributed.Center.Core;
using Distributed.Protocol;

namespace Distributed.Tests.Center;

/// <summary>
/// The center core with tasks that name allowed workers or ask for resources: they go only to an
/// allowed worker with the resources free, the resources come back when the task ends however it
/// ends, they are never taken by another worker, and they wait (with a log line) while no worker can
/// run them.
/// </summary>
public sealed class RestrictedPlacementTests
{
    private static readonly FunctionSpec Function = ContentAddress.Function([1]);
    private static readonly CodeManifest Code = new("v1", []);
    private static readonly ClientId Client = new(1);

    private readonly CenterCore _core = new(new CenterSettings(), TimeProvider.System, "center:8787", "center-1");
    private readonly List<RunOnWorker> _runs = [];
    private readonly List<LogLine> _log = [];
    private long _nextWorker = 100;

    public RestrictedPlacementTests() => Handle(new ClientJoined(Client));

    private void Handle(CenterEvent happened)
    {
        foreach (var command in _core.Handle(happened))
        {
            if (command is RunOnWorker run) _runs.Add(run);
            if (command is LogLine line) _log.Add(line);
        }
    }

    private WorkerId Join(string name, int cores = 4, string? resources = null)
    {
        var id = new WorkerId(++_nextWorker);
        Handle(new WorkerJoined(id, name, $"127.0.0.1:{9000 + _nextWorker}", cores, new DataEndpoint("127.0.0.1", 19000 + (int)_nextWorker),
            Resources: resources is null ? null : ResourceAmounts.Parse(resources)));
        return id;
    }

    private static TaskRestrictions Gpu(double amount = 1) => new([], new Dictionary<string, double> { ["GPU"] = amount });
    private static TaskRestrictions On(params string[] workers) => new(workers, new Dictionary<string, double>());

    private void Submit(TaskRestrictions? restrictions, params string[] keys) =>
        Handle(new TasksSubmitted(Client, Code, [Function], keys.Select(k => new TaskSpec(k, Function.FunctionId, ArgumentsKind.Dependencies, [], [], Restrictions: restrictions)).ToList()));

    /// <summary>The keys sent since the last call, by worker.</summary>
    private Dictionary<WorkerId, List<string>> Sent()
    {
        var sent = _runs.GroupBy(r => r.Worker).ToDictionary(g => g.Key, g => g.SelectMany(r => r.Tasks).Select(t => t.Key).ToList());
        _runs.Clear();
        return sent;
    }

    private void Finish(WorkerId worker, params string[] keys) => Handle(new TasksDone(worker, keys.Select(k => new StoredKey(k, 8, "System.Int32")).ToList()));

    [Fact]
    public void A_task_asking_for_a_gpu_waits_for_the_worker_that_has_one_free()
    {
        var gpu = Join("gpu", resources: "GPU=1");
        Join("plain");

        Submit(Gpu(), "g1", "g2", "g3");

        Assert.Equal(new Dictionary<WorkerId, List<string>> { [gpu] = ["g1"] }, Sent());
        Finish(gpu, "g1");
        Assert.Equal(new Dictionary<WorkerId, List<string>> { [gpu] = ["g2"] }, Sent());
        Finish(gpu, "g2");
        Assert.Equal(new Dictionary<WorkerId, List<string>> { [gpu] = ["g3"] }, Sent());
        Finish(gpu, "g3");
        Assert.Empty(Sent());
        Assert.True(_core.Workers.TryGet(gpu, out var entry));
        Assert.Null(entry.ResourcesInUse);
        Assert.Equal(0, entry.Load);
    }

    [Fact]
    public void A_worker_with_two_gpus_runs_two_such_tasks_at_once_and_a_half_gpu_task_fits_beside_one()
    {
        var gpu = Join("gpu", resources: "GPU=2");

        Submit(Gpu(), "g1", "g2", "g3");
        Submit(Gpu(0.5), "h1");

        // g3 waits for a GPU; h1 (half of one) does not fit beside two whole ones either.
        Assert.Equal(["g1", "g2"], Sent()[gpu]);
        Finish(gpu, "g1");
        Assert.Equal(["g3"], Sent()[gpu]);
        Finish(gpu, "g2");
        Assert.Equal(["h1"], Sent()[gpu]);
    }

    [Fact]
    public void Resources_come_back_when_the_task_fails_is_cancelled_or_its_worker_dies()
    {
        var gpu = Join("gpu", resources: "GPU=1");
        Submit(Gpu(), "g1", "g2", "g3", "g4");
        Assert.Equal(["g1"], Sent()[gpu]);

        Handle(new TasksFailedOn(gpu, [new FailedTask("g1", RemoteError.Of(ErrorKind.UserCode, "boom"))]));
        Assert.Equal(["g2"], Sent()[gpu]);

        Handle(new KeysReleased(Client, ["g2"]));
        Assert.Equal(["g3"], Sent()[gpu]);

        Handle(new WorkerLeft(gpu));
        Assert.Empty(Sent()); // no worker has a GPU now: g3 (running there) and g4 wait
        var second = Join("gpu-2", resources: "GPU=1");
        var first = Assert.Single(Sent()[second]);
        Finish(second, first);
        var last = Assert.Single(Sent()[second]);
        Assert.Equal(["g3", "g4"], new[] { first, last }.Order());
        Finish(second, last);
        Assert.True(_core.Workers.TryGet(second, out var entry));
        Assert.Null(entry.ResourcesInUse);
        Assert.Equal(0, _core.Tasks.Count);
    }

    [Fact]
    public void A_task_no_registered_worker_can_run_waits_with_a_log_line_then_runs_on_the_worker_that_joins()
    {
        Join("plain");

        Submit(Gpu(), "g1");
        Submit(On("elsewhere"), "p1");

        Assert.Empty(Sent());
        Assert.Contains(_log, l => l.Warning && l.Text.Contains("g1") && l.Text.Contains("GPU=1"));
        Assert.Contains(_log, l => l.Warning && l.Text.Contains("p1") && l.Text.Contains("elsewhere"));
        Assert.Equal(2, _core.Placement.WaitingRestricted.Count());

        var gpu = Join("gpu", resources: "GPU=1");
        Assert.Equal(["g1"], Sent()[gpu]);
        var elsewhere = Join("elsewhere");
        Assert.Equal(["p1"], Sent()[elsewhere]);
        Assert.Empty(_core.Placement.WaitingRestricted);
    }

    [Fact]
    public void Pinned_tasks_go_only_to_their_worker_by_name_or_address_and_an_idle_worker_never_takes_them()
    {
        // One core each: a window of 16 tasks, so most of the pinned tasks wait at the center while
        // the other worker is idle, which is when it would take from the busiest queue.
        var a = Join("a", cores: 1);
        var b = Join("b", cores: 1);
        Assert.True(_core.Workers.TryGet(a, out var entryA));
        var pinned = Enumerable.Range(0, 100).Select(i => $"p{i}").ToArray();
        Submit(On("a"), pinned[..50]);
        Submit(On(entryA.Address), pinned[50..]);
        Submit(null, Enumerable.Range(0, 60).Select(i => $"free{i}").ToArray());

        var ranOnA = new List<string>();
        var ranOnB = new List<string>();
        for (var round = 0; round < 200 && _core.Tasks.Count > 0; round++)
        {
            var sent = Sent();
            var onA = sent.GetValueOrDefault(a) ?? [];
            var onB = sent.GetValueOrDefault(b) ?? [];
            ranOnA.AddRange(onA);
            ranOnB.AddRange(onB);
            if (onA.Count > 0) Finish(a, onA.ToArray());
            if (onB.Count > 0) Finish(b, onB.ToArray());
        }

        Assert.Equal(0, _core.Tasks.Count);
        Assert.DoesNotContain(ranOnB, k => k.StartsWith('p'));
        Assert.Equal(pinned.Order(), ranOnA.Where(k => k.StartsWith('p')).Order());
        Assert.Contains(ranOnB, k => k.StartsWith("free", StringComparison.Ordinal)); // stealing still works for the others
    }

    [Fact]
    public void A_task_restricted_to_workers_and_resources_needs_both()
    {
        Join("gpu-a", resources: "GPU=1");
        var gpuB = Join("gpu-b", resources: "GPU=1");

        Handle(new TasksSubmitted(Client, Code, [Function],
            [new TaskSpec("t", Function.FunctionId, ArgumentsKind.Dependencies, [], [], Restrictions: new TaskRestrictions(["gpu-b"], new Dictionary<string, double> { ["GPU"] = 1 }))]));

        Assert.Equal(new Dictionary<WorkerId, List<string>> { [gpuB] = ["t"] }, Sent());
    }

    [Fact]
    public void A_worker_offering_impossible_resources_is_registered_with_none()
    {
        var id = new WorkerId(7);
        Handle(new WorkerJoined(id, "bad", "127.0.0.1:1", 1, new DataEndpoint("127.0.0.1", 2),
            Resources: new Dictionary<string, double> { ["GPU"] = double.NaN }));

        Assert.True(_core.Workers.TryGet(id, out var worker));
        Assert.Null(worker.Resources);
        Assert.Contains(_log, l => l.Warning && l.Text.Contains("GPU"));
    }
}
