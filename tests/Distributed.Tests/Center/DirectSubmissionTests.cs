using Distributed.Center.Core;
using Distributed.Protocol;

namespace Distributed.Tests.Center;

/// <summary>
/// The center core told of tasks a client handed to a worker directly: it sends them to that worker
/// (which runs each once) whatever the balance says, records them as any task, and tells the worker to
/// drop those it does not take.
/// </summary>
public sealed class DirectSubmissionTests
{
    private static readonly FunctionSpec Function = ContentAddress.Function([1]);
    private static readonly CodeManifest Code = new("v1", []);
    private static readonly ClientId Client = new(1);

    private readonly CenterCore _core = new(new CenterSettings(), TimeProvider.System, "center:8787", "center-1");
    private readonly List<CenterCommand> _commands = [];
    private long _nextWorker = 100;

    public DirectSubmissionTests() => Handle(new ClientJoined(Client));

    private void Handle(CenterEvent happened) => _commands.AddRange(_core.Handle(happened));

    private WorkerId Join(string name)
    {
        var id = new WorkerId(++_nextWorker);
        Handle(new WorkerJoined(id, name, $"127.0.0.1:{9000 + _nextWorker}", 1, new DataEndpoint("127.0.0.1", 19000 + (int)_nextWorker)));
        return id;
    }

    private static TaskSpec Task(string key) => new(key, Function.FunctionId, ArgumentsKind.Dependencies, [], []);

    private List<string> SentTo(WorkerId worker) =>
        _commands.OfType<RunOnWorker>().Where(r => r.Worker == worker).SelectMany(r => r.Tasks).Select(t => t.Key).ToList();

    [Fact]
    public void A_task_run_directly_is_sent_to_its_worker_even_when_another_is_idle_and_recorded_when_it_reports()
    {
        var busy = Join("busy");
        var idle = Join("idle");
        Handle(new TasksSubmitted(Client, Code, [Function], [Task("a")]));
        var first = SentTo(busy).Count == 1 ? busy : idle;
        var other = first == busy ? idle : busy;
        _commands.Clear();

        // The worker that already runs "a" took "d" directly: it goes there, not to the idle one.
        Handle(new TasksSubmitted(Client, Code, [Function], [Task("d")], DirectWorker: first == busy ? "busy" : "idle"));
        Assert.Equal(["d"], SentTo(first));
        Assert.Empty(SentTo(other));

        Handle(new TasksDone(first, [new StoredKey("d", 4, "System.Int32")]));
        Assert.Contains(_commands.OfType<TellClient>(), c => c.Message is TasksFinished f && f.Results.Any(r => r.Key == "d"));
        Assert.True(_core.Keys.Contains("d"));
    }

    [Fact]
    public void A_direct_task_the_center_refuses_is_dropped_on_its_worker()
    {
        var worker = Join("w");
        Handle(new TasksSubmitted(Client, Code, [Function], [Task("k")], DirectWorker: "w"));
        Handle(new TasksDone(worker, [new StoredKey("k", 4, "System.Int32")]));
        _commands.Clear();

        // The same key again (another task that worker took directly): refused, and the worker told to drop it.
        Handle(new TasksSubmitted(Client, Code, [Function], [Task("k") with { FunctionId = "other" }], DirectWorker: "w"));
        Assert.Contains(_commands.OfType<TellWorker>(), c => c.Worker == worker && c.Message is CancelTasks cancel && cancel.Keys.SequenceEqual(["k"]));
        Assert.Empty(SentTo(worker));
    }

    [Fact]
    public void A_direct_task_whose_worker_is_gone_runs_elsewhere()
    {
        Join("alive");
        Handle(new TasksSubmitted(Client, Code, [Function], [Task("d")], DirectWorker: "gone"));
        Assert.Equal(["d"], _commands.OfType<RunOnWorker>().SelectMany(r => r.Tasks).Select(t => t.Key).ToList());
    }
}
