using System.Collections.Concurrent;
using Akka.Actor;
using Distributed.Data;
using Distributed.Data.Serialization;
using Distributed.Protocol;
using Distributed.Worker;
using Distributed.Worker.Executor;

namespace Distributed.Tests.InProcess;

/// <summary>Which worker ran which task, in order: a value made again after a worker died shows up twice.</summary>
public sealed class ExecutionLog
{
    private readonly ConcurrentQueue<(string Worker, string Key)> _runs = new();

    public void Add(string worker, string key) => _runs.Enqueue((worker, key));

    /// <summary>The workers that ran <paramref name="key"/>, in order.</summary>
    public IReadOnlyList<string> WorkersThatRan(string key) => _runs.Where(r => r.Key == key).Select(r => r.Worker).ToList();
}

/// <summary>
/// Plays a worker's executor process in the in-process specs, whose tier forbids child processes.
/// It runs no user code: it gives each task's argument back as its result (the value of a Map over
/// plain values, or the one input of a Map over RemoteData). A Map of the identity thus puts values
/// on the workers along the real path: client, center, placement, the worker's store and report.
/// </summary>
internal sealed class EchoExecutor : ReceiveActor
{
    private readonly ValueCodec _codec = new();

    public EchoExecutor(string worker, ExecutionLog log)
    {
        Receive<ExecuteBatch>(batch =>
        {
            var results = batch.Tasks.Select(task =>
            {
                log.Add(worker, task.Key);
                return Echo(task, batch.Values);
            }).ToList();
            Context.Parent.Tell(new ExecutorResults(results));
        });
        Receive<AdoptCode>(_ => { }); // a spare learns its code version: there is nothing to load
        Receive<CancelExecution>(_ => { }); // each batch is answered at once: nothing waits to start
    }

    /// <summary>The stand-in for every executor of the worker named <paramref name="worker"/> (its spare included).</summary>
    public static Func<string?, Props> For(string worker, ExecutionLog log) => _ => Props.Create(() => new EchoExecutor(worker, log));

    private ExecutorResult Echo(ExecutorTask task, IReadOnlyDictionary<string, StoredValue> inputs)
    {
        // A copy, as a real executor's answer read from its socket: the worker's store adopts the array for reuse.
        var value = task.Kind switch
        {
            ArgumentsKind.SingleValue => task.Args.ToArray(),
            ArgumentsKind.Dependencies when task.Dependencies.Count == 1 => inputs[task.Dependencies[0]].ToArray(),
            _ => null,
        };
        if (value is null)
            return new ExecutorResult(task.Key, null, "", RemoteError.Of(ErrorKind.UserCode,
                $"The echo executor of the in-process specs gives back one argument; {task.Key} has {task.Kind} arguments ({task.Dependencies.Count} inputs)."));
        var typeName = _codec.Decode(value)?.GetType().FullName ?? "null";
        return new ExecutorResult(task.Key, new StoredValue(value, typeName), typeName, null);
    }
}
