using Akka.Configuration;
using Distributed.Center;
using Distributed.Center.Core;
using Distributed.Protocol;

namespace Distributed.Tests.Center;

/// <summary>
/// The center core retiring workers: a retiring worker is described as such, values go to active
/// workers only (never from one retiring worker to another), and a retirement that outlasts
/// <c>distributed.center.retirement-timeout</c> ends with the worker told to leave.
/// </summary>
public sealed class RetirementCoreTests
{
    private static readonly FunctionSpec Function = ContentAddress.Function([1]);
    private static readonly CodeManifest Code = new("v1", []);
    private static readonly ClientId Client = new(1);

    private readonly CenterCore _core;
    private readonly List<CenterCommand> _commands = [];
    private long _nextWorker = 100;

    public RetirementCoreTests() : this(new CenterSettings()) { }

    private RetirementCoreTests(CenterSettings settings)
    {
        _core = new CenterCore(settings, TimeProvider.System, "center:8787", "center-1");
        Handle(new ClientJoined(Client));
    }

    private void Handle(CenterEvent happened) => _commands.AddRange(_core.Handle(happened));

    /// <summary>The commands since the last call.</summary>
    private List<CenterCommand> Taken()
    {
        var taken = _commands.ToList();
        _commands.Clear();
        return taken;
    }

    private WorkerId Join(string name)
    {
        var id = new WorkerId(++_nextWorker);
        Handle(new WorkerJoined(id, name, $"127.0.0.1:{9000 + _nextWorker}", 2, new DataEndpoint("127.0.0.1", 19000 + (int)_nextWorker)));
        return id;
    }

    /// <summary>Runs <paramref name="key"/> on <paramref name="worker"/> (by name); finished unless <paramref name="finish"/> is false.</summary>
    private void Make(WorkerId worker, string name, string key, long size = 8, bool finish = true)
    {
        Handle(new TasksSubmitted(Client, Code, [Function], [new TaskSpec(key, Function.FunctionId, ArgumentsKind.Dependencies, [], [],
            Restrictions: new TaskRestrictions([name], new Dictionary<string, double>()))]));
        Assert.Contains(Taken(), c => c is RunOnWorker run && run.Worker == worker && run.Tasks.Any(t => t.Key == key));
        if (finish) Handle(new TasksDone(worker, [new StoredKey(key, size, "System.Int32")]));
    }

    private static List<(WorkerId Target, FetchKeys Fetch)> Fetches(IEnumerable<CenterCommand> commands) =>
        commands.OfType<TellWorker>().Where(t => t.Message is FetchKeys).Select(t => (t.Worker, (FetchKeys)t.Message)).ToList();

    private WorkerState StateOf(string name)
    {
        Handle(new WorkersAsked(Client, false, 7));
        var reply = (WorkersReply)Taken().OfType<TellClient>().Single(t => t.Message is WorkersReply).Message;
        return reply.Workers.Single(w => w.Name == name).State;
    }

    private void Stored(WorkerId target, FetchKeys fetch) =>
        Handle(new CopiesStored(target, fetch.Inputs.Select(k => new StoredKey(k.Key, 8, "System.Int32")).ToList(), fetch.ReplicationId));

    [Fact]
    public void A_retiring_worker_is_described_as_retiring_to_clients_and_the_dashboard_until_it_has_retired()
    {
        var a = Join("a");
        Join("b");
        Make(a, "a", "busy", finish: false); // it has a task running: it cannot be done at once
        Taken();

        Handle(new RetirementAsked(Client, ["a"], 1));

        Assert.Equal(WorkerState.Retiring, StateOf("a"));
        Assert.Equal(WorkerState.Active, StateOf("b"));
        Assert.Equal(WorkerState.Retiring, _core.View().Workers.Single(w => w.Name == "a").State);
        Handle(new TasksDone(a, [new StoredKey("busy", 8, "System.Int32")]));
        var (target, fetch) = Assert.Single(Fetches(Taken()));
        Stored(target, fetch);
        var said = Taken();
        Assert.Contains(said, c => c is TellWorker { Message: WorkerRetired { Error: null } } tell && tell.Worker == a);
        Assert.Contains(said, c => c is TellClient { Message: WorkersRetired { Error: null } });
    }

    [Fact]
    public void Workers_retiring_together_hand_their_values_to_the_active_worker_only()
    {
        var a = Join("a");
        var b = Join("b");
        var c = Join("c");
        Make(a, "a", "on-a");
        Make(b, "b", "on-b");
        Taken();

        Handle(new RetirementAsked(Client, ["a", "b"], 1));

        var fetches = Fetches(Taken());
        Assert.All(fetches, f => Assert.Equal(c, f.Target));
        Assert.Equal(["on-a", "on-b"], fetches.SelectMany(f => f.Fetch.Inputs).Select(k => k.Key).Order());
    }

    [Fact]
    public void A_copy_on_its_way_to_a_worker_that_starts_retiring_goes_to_an_active_worker_instead_and_is_handed_over_once()
    {
        var a = Join("a");
        var b = Join("b");
        var c = Join("c");
        Make(a, "a", "on-a");
        Make(b, "b", "on-b");
        Make(c, "c", "large-on-c", size: 1_000_000); // so that a's value goes to b, the emptier
        Taken();
        Handle(new RetirementOffered(a));
        var (firstTarget, toB) = Assert.Single(Fetches(Taken()));
        Assert.Equal(b, firstTarget);

        Handle(new RetirementOffered(b)); // b is stopping too, before the copy arrived

        var afterB = Fetches(Taken());
        Assert.All(afterB, f => Assert.Equal(c, f.Target));
        Assert.Equal(["on-a", "on-b"], afterB.SelectMany(f => f.Fetch.Inputs).Select(k => k.Key).Order());
        // The first copy lands on b after all: b does not hand it over again, as a's goes to c already.
        Stored(b, toB);
        Assert.Empty(Fetches(Taken()));
        foreach (var (target, fetch) in afterB) Stored(target, fetch);
        var retired = Taken().OfType<TellWorker>().Where(t => t.Message is WorkerRetired).ToList();
        Assert.Equal([a, b], retired.Select(t => t.Worker).OrderBy(w => w.ToString(), StringComparer.Ordinal));
        Assert.All(retired, t => Assert.Null(((WorkerRetired)t.Message).Error));
        Assert.Equal(WorkerState.Active, StateOf("c"));
    }

    [Fact]
    public void A_retirement_that_outlasts_its_limit_ends_and_the_worker_is_told_to_leave_anyway()
    {
        var core = new RetirementCoreTests(new CenterSettings { RetirementTimeout = TimeSpan.FromSeconds(5) });
        var a = core.Join("a");
        core.Join("b");
        core.Make(a, "a", "never-ends", finish: false);
        core.Taken();

        core.Handle(new RetirementAsked(Client, ["a"], 1));
        var timer = Assert.Single(core.Taken().OfType<StartTimer>());
        Assert.Equal(TimeSpan.FromSeconds(5), timer.Delay);
        core.Handle(new TimerFired(timer.Timer));

        var said = core.Taken();
        var told = Assert.Single(said.OfType<TellWorker>(), t => t.Message is WorkerRetired);
        Assert.Equal(a, told.Worker);
        Assert.Contains("distributed.center.retirement-timeout", ((WorkerRetired)told.Message).Error, StringComparison.Ordinal);
        var answer = (WorkersRetired)said.OfType<TellClient>().Single(t => t.Message is WorkersRetired).Message;
        Assert.Contains("did not finish retiring within 5 s", answer.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_a_limit_a_retirement_starts_no_timer()
    {
        var core = new RetirementCoreTests(new CenterSettings { RetirementTimeout = null });
        var a = core.Join("a");
        core.Join("b");
        core.Make(a, "a", "never-ends", finish: false);
        core.Taken();

        core.Handle(new RetirementAsked(Client, ["a"], 1));

        Assert.Empty(core.Taken().OfType<StartTimer>());
    }

    [Theory]
    [InlineData("", 20.0)]
    [InlineData("distributed.center.retirement-timeout = 45s", 45.0)]
    [InlineData("distributed.center.retirement-timeout = 2m", 120.0)]
    [InlineData("distributed.center.retirement-timeout = off", null)]
    public void The_limit_is_a_setting(string hocon, double? seconds) =>
        Assert.Equal(seconds is { } s ? TimeSpan.FromSeconds(s) : null, CenterConfig.Read(ConfigurationFactory.ParseString(hocon)).RetirementTimeout);

    [Theory]
    [InlineData("distributed.center.retirement-timeout = 0s", "must be a positive duration or off")]
    [InlineData("distributed.center.retirement-timeout = soon", "is not a duration such as 20s, or off (it is 'soon')")]
    public void A_bad_limit_is_named(string hocon, string expected) =>
        Assert.Contains(expected, Assert.Throws<FormatException>(() => CenterConfig.Read(ConfigurationFactory.ParseString(hocon))).Message, StringComparison.Ordinal);
}
