using Distributed.Data;
using Distributed.Protocol;
using Distributed.Worker.Executor;

namespace Distributed.Worker.Core;

/// <summary>
/// Tasks a client hands to this worker straight over the data channel, so that a single Apply takes one
/// hop instead of two Akka round trips through the center. The client tells the center too (its
/// <see cref="SubmitTasks"/> names this worker), and the center sends the task here as it sends any
/// task: that batch confirms it. Until then its result is kept, answered to the client, and not
/// reported; once confirmed it is reported to the center like every other task. Whatever the center
/// does not take (refused, or sent elsewhere) it cancels here, and the value is dropped.
/// </summary>
internal sealed partial class WorkerCore
{
    /// <summary>Direct tasks kept while the center has not sent them: beyond this, tasks go through the center.</summary>
    public const int MaxDirectAwaitingCenter = 10_000;

    /// <summary>
    /// How often answered direct tasks that the center has not confirmed are looked at: one still
    /// unconfirmed at the second look (1–2 intervals after its answer) is dropped with its value. Its
    /// client confirms within moments of the answer, so such a task's client died or lost the center
    /// before telling it; without the sweep its value would be held for ever, and 10,000 of them would
    /// turn the direct path off on this worker. Should the center send it after all, it runs again.
    /// </summary>
    public static readonly TimeSpan DirectSweepInterval = TimeSpan.FromMinutes(1);

    /// <summary>The batch id of an assignment the center confirmed for a task that already ran directly (no batch brought it).</summary>
    private const long DirectBatch = -1;

    private readonly int? _threads;

    /// <summary>Task key → a task taken directly, until it is both answered to its client and confirmed by the center.</summary>
    private readonly Dictionary<string, DirectTask> _direct = [];

    /// <summary>Tasks taken directly and not yet both answered and confirmed, for tests and checks.</summary>
    public int DirectTasksHeld => _direct.Count;

    private void HandleDirectTaskArrived(WorkerEvent.DirectTaskArrived message)
    {
        if (DirectRefusal(message, out var executor, out var code) is { } reason)
        {
            Emit(new WorkerCommand.DirectDecided(message.RequestId, reason));
            return;
        }
        var task = message.Task;
        _direct[task.Key] = new DirectTask(message.RequestId);
        var executorTask = new ExecutorTask(task.Key, task.FunctionId, task.Kind, task.Args, task.Dependencies, task.TimeoutMs);
        var batch = new ExecuteBatch(message.Functions, new Dictionary<string, StoredValue>(), [executorTask]);
        _runsOut[task.Key] = new Run(code, batch, executorTask, BatchInputs.None); // no inputs: nothing leased
        _idleChecks[executor] = 0;
        Emit(new WorkerCommand.DirectDecided(message.RequestId, null));
        Emit(new WorkerCommand.Execute(executor, batch));
    }

    /// <summary>Why the task cannot run here directly (it then goes through the center), or null.</summary>
    private string? DirectRefusal(WorkerEvent.DirectTaskArrived message, out long executor, out CodeManifest code)
    {
        code = message.Code;
        executor = 0;
        var task = message.Task;
        if (_threads is { } threads && _runsOut.Count >= threads) return "every thread of the worker is busy";
        if (_direct.Count >= MaxDirectAwaitingCenter) return $"{_direct.Count} tasks taken directly still wait for the center";
        if (task.Dependencies.Count > 0 || task.Restrictions is not null) return "only a task without inputs or restrictions is taken directly";
        if (_running.ContainsKey(task.Key) || _direct.ContainsKey(task.Key) || _runsOut.ContainsKey(task.Key) || _store.Contains(task.Key))
            return $"the key {task.Key} is known here already";
        if (!message.Functions.Any(f => f.FunctionId == task.FunctionId)) return $"its function {task.FunctionId} was not sent";
        if (message.Functions.FirstOrDefault(f => !ContentAddress.IsIntact(f)) is { } forged) return $"the id of function {forged.FunctionId} is not the hash of its bytes";
        // Code arrives (and is checked) with the center's batches: a version no executor runs yet goes that way first.
        if (!_executorOfVersion.TryGetValue(message.Code.Version, out executor)) return "its code is not loaded here yet";
        (code, var nativeProblem) = NativeLibraryFiles.ForRuntime(message.Code, _runtimeId);
        return nativeProblem;
    }

    /// <summary>
    /// Splits the center's batch: tasks that run (or ran) here directly are confirmed, and the rest is
    /// returned; null when the batch holds none.
    /// </summary>
    private List<TaskSpec>? TakeDirectConfirmations(WorkerEvent.BatchArrived message)
    {
        List<TaskSpec>? rest = null;
        for (var i = 0; i < message.Tasks.Count; i++)
        {
            var task = message.Tasks[i];
            if (!_direct.TryGetValue(task.Key, out var direct))
            {
                rest?.Add(task);
                continue;
            }
            rest ??= message.Tasks.Take(i).ToList();
            if (direct.Confirmed)
            {
                // Sent again while it runs: the new assignment replaces it, and the client hears the end from the center.
                _direct.Remove(task.Key);
                AnswerDirect(direct, null, null);
                rest.Add(task);
                continue;
            }
            direct.Confirmed = true;
            if (!direct.Answered)
            {
                // Still running: from here it is the center's assignment, reported when it ends.
                if (!_clients.TryGetValue(message.Client, out var client)) _clients[message.Client] = client = new ClientHolds(message.Client);
                _running[task.Key] = new Assignment(client, DirectBatch);
                client.Holds++;
                continue;
            }
            _direct.Remove(task.Key);
            if (direct.Result is { } stored) Emit(new WorkerCommand.ReportFinished([stored], direct.Run is { } ran ? [ran] : null));
            else if (direct.Failure is { } failure) Emit(new WorkerCommand.ReportFailed([failure]));
        }
        return rest;
    }

    /// <summary>
    /// A direct task's run ended: its result is stored and answered to the client. Returns the client
    /// to report it for when the center confirmed it already; null when the report waits for the center.
    /// </summary>
    private ClientHolds? DirectRunEnded(ExecutorResult result, DirectTask direct)
    {
        RemoveRun(result.Key);
        StoredKey? stored = null;
        FailedTask? failure = null;
        if (result.Error is { } error) failure = new FailedTask(result.Key, error);
        else
        {
            // As in HandleExecutorResults: the answer is in a segment this worker lent the executor, or in
            // arrays of its own; either way the store may reuse them once the key is gone.
            var value = result.Shared?.Stored ?? result.Value!.AdoptedBy(_store.Buffers);
            _store.Put(result.Key, value);
            stored = new StoredKey(result.Key, value.Length, result.TypeName);
        }
        direct.Run = result.Run;
        AnswerDirect(direct, stored, failure);
        if (!direct.Confirmed) return null;
        _direct.Remove(result.Key);
        _running.Remove(result.Key, out var assignment);
        Release(assignment!.Client);
        return assignment.Client;
    }

    /// <summary>
    /// The center cancelled a key: a direct task of it is dropped (its value deleted if it ran, its client
    /// told to hear the end from the center). True when its run is out and only this cancels it.
    /// </summary>
    private bool CancelDirect(string key)
    {
        if (!_direct.Remove(key, out var direct)) return false;
        if (direct.Answered)
        {
            // Ran, answered, and the center does not keep it: nobody will ever ask for the value.
            if (direct.Result is not null) _store.Delete(key);
            return false;
        }
        AnswerDirect(direct, null, null);
        if (direct.Confirmed || !_runsOut.ContainsKey(key)) return false; // a confirmed one is cancelled as the center's assignment
        _cancelledRunsOut.Add(key);
        return true;
    }

    /// <summary>Direct tasks dropped because the center never confirmed them (see <see cref="DirectSweepInterval"/>).</summary>
    public long DirectTasksSwept { get; private set; }

    /// <summary>Drops the answered direct tasks still unconfirmed since the last sweep, and marks the rest.</summary>
    private void SweepUnconfirmedDirectTasks()
    {
        List<string>? dropped = null;
        foreach (var (key, direct) in _direct)
        {
            if (!direct.Answered || direct.Confirmed) continue; // a running one is answered first; a confirmed one is the center's
            if (!direct.SeenBySweep)
            {
                direct.SeenBySweep = true;
                continue;
            }
            (dropped ??= []).Add(key);
        }
        if (dropped is null) return;
        foreach (var key in dropped)
        {
            _direct.Remove(key, out var direct);
            if (direct!.Result is not null) _store.Delete(key);
        }
        DirectTasksSwept += dropped.Count;
    }

    /// <summary>Answers the client once: a result, a failure, or neither (it then hears the end from the center).</summary>
    private void AnswerDirect(DirectTask direct, StoredKey? result, FailedTask? failure)
    {
        if (direct.Answered) return;
        direct.Answered = true;
        direct.Result = result;
        direct.Failure = failure;
        Emit(new WorkerCommand.DirectAnswered(direct.RequestId, result, failure));
    }

    private void CheckDirectInvariants()
    {
        foreach (var (key, direct) in _direct)
        {
            if (!direct.Answered && !_runsOut.ContainsKey(key))
                throw new InvalidOperationException($"Direct task {key} is not answered, and no run of it is out: its client would wait for ever.");
            if (direct.Answered && direct.Confirmed)
                throw new InvalidOperationException($"Direct task {key} is answered and confirmed, yet still kept.");
            if (direct.Confirmed != _running.ContainsKey(key))
                throw new InvalidOperationException($"Direct task {key} is {(direct.Confirmed ? "confirmed but not" : "not confirmed but")} assigned.");
        }
    }

    /// <summary>A task taken directly: the request to answer, whether answered (and with what), whether the center sent it.</summary>
    private sealed class DirectTask(long requestId)
    {
        public long RequestId { get; } = requestId;
        public bool Answered { get; set; }
        public bool Confirmed { get; set; }
        public StoredKey? Result { get; set; }
        public FailedTask? Failure { get; set; }
        /// <summary>Whether a sweep found it answered and unconfirmed: the next one drops it.</summary>
        public bool SeenBySweep { get; set; }
        /// <summary>When and on which executor thread it ran, for the report.</summary>
        public TaskRun? Run { get; set; }
    }
}
