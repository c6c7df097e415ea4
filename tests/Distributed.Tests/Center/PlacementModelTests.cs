using Akka.TestKit;
using CsCheck;
using Distributed.Center;
using Distributed.Protocol;
using Xunit.Abstractions;

namespace Distributed.Tests.Center;

/// <summary>
/// The center's placement checked against a model: random workers, and random sequences of tasks
/// (with or without an input) and completions. The model keeps each worker's running tasks and the
/// holder of each key, and says which workers may be chosen for each task.
/// </summary>
public sealed class PlacementModelTests(ITestOutputHelper output) : DistributedSpec(output)
{
    /// <summary>As in the center: how many more running tasks per core a holder may have before its input moves.</summary>
    private const double BusyMargin = 8;

    private enum Kind { Plain, WithInput, Finish }

    private sealed record Step(Kind Kind, int Pick)
    {
        public override string ToString() => $"{Kind}({Pick})";
    }

    private sealed record Scenario(int[] Cores, Step[] Steps)
    {
        public override string ToString() => $"cores [{string.Join(", ", Cores)}], steps [{string.Join(", ", Steps.Select(s => s.ToString()))}]";
    }

    private static readonly Gen<Step> StepGen = Gen.Select(
        Gen.Frequency((1, Gen.Const(Kind.Plain)), (4, Gen.Const(Kind.WithInput)), (1, Gen.Const(Kind.Finish))),
        Gen.Int[0, 1000],
        (kind, pick) => new Step(kind, pick));

    private static readonly Gen<Scenario> ScenarioGen = Gen.Select(Gen.Int[1, 4].Array[1, 4], StepGen.Array[1, 80], (cores, steps) => new Scenario(cores, steps));

    [Fact]
    public async Task Every_task_goes_to_its_inputs_holder_unless_much_busier_and_otherwise_to_a_least_busy_worker()
    {
        await ScenarioGen.SampleAsync(RunScenarioAsync, iter: 100, threads: 1, print: s => s.ToString());
    }

    private async Task RunScenarioAsync(Scenario scenario)
    {
        var center = Sys.ActorOf(CenterActor.Props());
        var settle = CreateTestProbe();
        var client = CreateTestProbe();
        center.Tell(new ConnectClient(), client.Ref);
        await client.ExpectMsgAsync<ClientConnected>();
        center.Tell(new ConnectClient(), settle.Ref);
        await settle.ExpectMsgAsync<ClientConnected>();
        var workers = new List<(TestProbe Probe, string Name, DataEndpoint Data, int Cores)>();
        try
        {
            for (var i = 0; i < scenario.Cores.Length; i++)
            {
                var probe = CreateTestProbe();
                var data = new DataEndpoint("127.0.0.1", 20000 + i);
                center.Tell(new RegisterWorker($"w{i}", $"127.0.0.1:{10000 + i}", scenario.Cores[i], data), probe.Ref);
                await probe.ExpectMsgAsync<WorkerRegistered>();
                workers.Add((probe, $"w{i}", data, scenario.Cores[i]));
            }
            var running = new List<(string Key, int Worker)>();
            var load = new int[workers.Count];
            var holders = new List<(string Key, int Worker)>();
            double Busyness(int w) => (double)load[w] / workers[w].Cores;
            var function = ContentAddress.Function([0]);
            var code = new CodeManifest("v", []);

            for (var s = 0; s < scenario.Steps.Length; s++)
            {
                var step = scenario.Steps[s];
                if (step.Kind == Kind.Finish)
                {
                    if (running.Count == 0) continue;
                    var (key, worker) = running[step.Pick % running.Count];
                    running.Remove((key, worker));
                    load[worker]--;
                    holders.Add((key, worker));
                    center.Tell(new TasksFinished(workers[worker].Name, workers[worker].Data, [new StoredKey(key, 8, "System.Int32")]), workers[worker].Probe.Ref);
                    continue;
                }

                // Past 16 tasks per core a worker's further tasks wait at the center, where another
                // worker may take them (WorkerDeathTests and the chaos benchmark cover that); the model
                // covers placement while every task goes out at once.
                if (Enumerable.Range(0, workers.Count).Any(w => load[w] >= 16 * workers[w].Cores)) break;
                var taskKey = $"t{s}";
                (string Key, int Worker)? input = step.Kind == Kind.WithInput && holders.Count > 0 ? holders[step.Pick % holders.Count] : null;
                string[] dependencies = input is { } i ? [i.Key] : [];
                var leastBusy = Enumerable.Range(0, workers.Count).Min(Busyness);
                var allowed = input is { } holder && Busyness(holder.Worker) <= leastBusy + BusyMargin
                    ? [holder.Worker]
                    : Enumerable.Range(0, workers.Count).Where(w => Busyness(w) == leastBusy).ToArray();

                center.Tell(new SubmitTasks(code, [function], [new TaskSpec(taskKey, function.FunctionId, ArgumentsKind.Dependencies, [], dependencies)]), client.Ref);
                center.Tell(new GetWorkers(false), settle.Ref);
                await settle.ExpectMsgAsync<WorkersReply>();

                var told = Enumerable.Range(0, workers.Count).Where(w => workers[w].Probe.HasMessages).ToList();
                var loads = string.Join(", ", Enumerable.Range(0, workers.Count).Select(w => $"w{w}: {load[w]}/{workers[w].Cores}"));
                Assert.True(told.Count == 1, $"Step {s} ({taskKey}, input {input?.Key ?? "none"}): expected one worker to be told, got [{string.Join(", ", told.Select(w => $"w{w}"))}]; loads {loads}.");
                var chosen = told[0];
                var run = Assert.IsType<RunTasks>(workers[chosen].Probe.ReceiveOne(TimeSpan.Zero));
                Assert.Equal([taskKey], run.Tasks.Select(t => t.Key));
                Assert.True(allowed.Contains(chosen),
                    $"Step {s} ({taskKey}, input {(input is { } x ? $"{x.Key} on w{x.Worker}" : "none")}): placed on w{chosen}, expected one of [{string.Join(", ", allowed.Select(w => $"w{w}"))}]; loads {loads}.");
                if (input is { } needed && chosen != needed.Worker)
                    Assert.Equal([new RemoteInput(needed.Key, [workers[needed.Worker].Data])], run.RemoteInputs, RemoteInputComparer.Instance);
                else
                    Assert.Empty(run.RemoteInputs);
                // The client hears of finished tasks (the center forwards them), and of nothing else.
                while (client.HasMessages)
                {
                    var message = client.ReceiveOne(TimeSpan.Zero);
                    Assert.True(message is TasksFinished, $"Step {s}: the client was sent {message}.");
                }
                load[chosen]++;
                running.Add((taskKey, chosen));
            }
        }
        finally
        {
            Sys.Stop(center);
            foreach (var worker in workers) Sys.Stop(worker.Probe.Ref);
            Sys.Stop(settle.Ref);
            Sys.Stop(client.Ref);
        }
    }

    private sealed class RemoteInputComparer : IEqualityComparer<RemoteInput>
    {
        public static readonly RemoteInputComparer Instance = new();
        public bool Equals(RemoteInput? x, RemoteInput? y) => x is not null && y is not null && x.Key == y.Key && x.Holders.SequenceEqual(y.Holders);
        public int GetHashCode(RemoteInput obj) => obj.Key.GetHashCode(StringComparison.Ordinal);
    }
}
