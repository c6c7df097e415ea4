using Akka.Actor;
using Akka.Event;
using Distributed.Protocol;

namespace Distributed.Client;

/// <summary>
/// The client's actor, behind the <c>Pool</c>: submits tasks to the center, collects
/// their completions from the center, relays the Pool's questions to the center (so that the center
/// hears every message of this client from this actor), and answers the workers' requests for the
/// user's assemblies, which the center relays (a worker never connects to a client). Completions and
/// answers are taken from the center's actor alone.
/// </summary>
internal sealed class ClientActor : ReceiveActor
{
    private const int MaxTasksPerMessage = 2048;

    /// <summary>
    /// Map and Apply tasks a client may have at the center unfinished. A Map of a million items goes
    /// out as earlier ones finish: the center holds a bounded number of pending tasks, and a burst of
    /// hundreds of messages cannot starve the cluster's heartbeats (measured: sending a million at
    /// once made the client miss the center's heartbeats on a busy machine and leave the cluster).
    /// </summary>
    internal const int MaxUnfinishedTasks = 65_536;

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly IActorRef _center;
    private readonly ActorPath _centerPath;
    private readonly CodeShipping _code;
    private readonly Refusals _refusals;
    /// <summary>The Pool's questions relayed to the center, by the request id their answer repeats.</summary>
    private readonly Dictionary<long, IActorRef> _askers = [];
    private long _nextRequest;
    private readonly Dictionary<string, Submission> _submissions = [];
    private readonly Queue<(Submission Submission, SubmitTasks Chunk)> _waiting = new();
    private int _unfinished;

    /// <summary>A client actor that reaches the center through <paramref name="center"/> (its proxy) and hears it at <paramref name="centerPath"/>.</summary>
    public ClientActor(IActorRef center, ActorPath centerPath, CodeShipping code)
    {
        _center = center;
        _centerPath = centerPath;
        _code = code;
        _refusals = new Refusals(_log, "The client");
        // The Pool's own requests come from this process only, never from another member.
        Receive<Submit>(m => FromPool(m, HandleSubmit));
        Receive<AskCenter>(m => FromPool(m, HandleAskCenter));
        Receive<CancelSubmission>(m => FromPool(m, HandleCancelSubmission));
        Receive<TasksFinished>(m => FromCenter(m, HandleTasksFinished));
        Receive<TasksFailed>(m => FromCenter(m, HandleTasksFailed));
        Receive<ICenterAnswer>(m => FromCenter(m, HandleAnswer));
        Receive<RequestAssemblies>(HandleRequestAssemblies);
        // Asked by the center's relay for a worker whose executor missed an assembly no manifest listed.
        Receive<ResolveAssemblyName>(m =>
        {
            if (!Sender.Path.Address.Equals(_centerPath.Address))
            {
                _refusals.Refuse(Sender, m, $"only the center's node ({_centerPath.Address}) asks which assembly a name is");
                return;
            }
            var (assembly, problem) = _code.Resolve(m.Name);
            Sender.Tell(new AssemblyNameResolved(m.Name, assembly, problem));
        });
    }

    public static Props Props(IActorRef center, ActorPath centerPath, CodeShipping code) => Akka.Actor.Props.Create(() => new ClientActor(center, centerPath, code));

    /// <summary>Handles a completion or an answer when it comes from the center; refuses it otherwise.</summary>
    private void FromCenter<T>(T message, Action<T> handle) where T : notnull
    {
        if (Peers.IsAt(Sender, _centerPath)) handle(message);
        else _refusals.Refuse(Sender, message, $"only the center ({_centerPath}) sends completions and answers to a client");
    }

    private void FromPool<T>(T message, Action<T> handle) where T : notnull
    {
        if (Sender.Path.Address.HasLocalScope) handle(message);
        else _refusals.Refuse(Sender, message, "only the Pool in this process sends it");
    }

    private void HandleAskCenter(AskCenter message)
    {
        var id = ++_nextRequest;
        _askers[id] = Sender;
        _center.Tell(WithRequestId(message.Question, id));
    }

    private static ICenterQuestion WithRequestId(ICenterQuestion question, long id) => question switch
    {
        ConnectClient m => m with { RequestId = id },
        ClaimKeys m => m with { RequestId = id },
        WhoHas m => m with { RequestId = id },
        GetWorkers m => m with { RequestId = id },
        ReplicateKeys m => m with { RequestId = id },
        GetProgress m => m with { RequestId = id },
        ScatterKeys m => m with { RequestId = id },
        AwaitScattered m => m with { RequestId = id },
        PublishDataset m => m with { RequestId = id },
        UnpublishDataset m => m with { RequestId = id },
        GetDataset m => m with { RequestId = id },
        ListDatasets m => m with { RequestId = id },
        RetireWorkers m => m with { RequestId = id },
        _ => throw new ArgumentException($"{question.GetType().Name} is not a question the client relays."),
    };

    private void HandleAnswer(ICenterAnswer answer)
    {
        // An answer to a question whose asker gave up (timed out) has nobody to go to.
        if (_askers.Remove(answer.RequestId, out var asker)) asker.Tell(answer);
    }

    private void HandleSubmit(Submit message)
    {
        // Independent tasks that all report back (Map, Apply) are paced; a graph goes out whole,
        // because its reported tasks may wait for intermediates in any of its messages.
        var paced = message.Tasks.All(t => t.ReleaseAfterConsumers == 0 && t.Priority < 0);
        var submission = new Submission(Sender, message.Tasks.Select(t => t.Key).ToList(), message.Tasks.Count(t => t.ReleaseAfterConsumers == 0), paced)
        {
            Sink = message.Futures,
            Progress = message.Progress,
        };
        foreach (var task in message.Tasks) _submissions[task.Key] = submission;
        if (submission.Expected == 0)
        {
            Sender.Tell(new SubmissionCompleted(submission.Locations));
            return;
        }
        for (var start = 0; start < message.Tasks.Count; start += MaxTasksPerMessage)
        {
            var chunk = new SubmitTasks(message.Code, start == 0 ? message.Functions : [], message.Tasks.Skip(start).Take(MaxTasksPerMessage).ToList(), message.DirectWorker);
            if (paced)
            {
                _waiting.Enqueue((submission, chunk));
                if (submission.Sink is not null) foreach (var task in chunk.Tasks) submission.Unsent.Add(task.Key);
            }
            else _center.Tell(chunk);
        }
        SendWaiting();
    }

    private void SendWaiting()
    {
        while (_waiting.TryPeek(out var next) && (_unfinished < MaxUnfinishedTasks || next.Submission.Done))
        {
            _waiting.Dequeue();
            if (next.Submission.Done) continue; // failed or cancelled meanwhile: its rest is never sent
            var chunk = next.Chunk;
            if (next.Submission.Sink is not null)
            {
                // Futures cancelled one by one while they waited here are not sent at all.
                next.Submission.Unsent.ExceptWith(chunk.Tasks.Select(t => t.Key));
                if (chunk.Tasks.Any(t => !_submissions.ContainsKey(t.Key)))
                    chunk = chunk with { Tasks = chunk.Tasks.Where(t => _submissions.ContainsKey(t.Key)).ToList() };
                if (chunk.Tasks.Count == 0 && chunk.Functions.Count == 0) continue; // a first chunk still brings the functions
            }
            _center.Tell(chunk);
            next.Submission.Unfinished += chunk.Tasks.Count;
            _unfinished += chunk.Tasks.Count;
        }
    }

    /// <summary>Ends a submission early (failed or cancelled): its tasks no longer count against the window.</summary>
    private void Abandon(Submission submission)
    {
        submission.Done = true;
        _unfinished -= submission.Unfinished;
        submission.Unfinished = 0;
        SendWaiting();
    }

    private void HandleTasksFinished(TasksFinished message)
    {
        List<Submission>? moved = null;
        foreach (var result in message.Results)
        {
            if (!_submissions.Remove(result.Key, out var submission) || submission.Done) continue;
            if (submission.Progress is not null)
            {
                submission.FinishedCount++;
                submission.ResultBytes += result.Size;
                if (!submission.ProgressMoved) (moved ??= []).Add(submission);
                submission.ProgressMoved = true;
            }
            if (submission.Paced)
            {
                submission.Unfinished--;
                _unfinished--;
            }
            var location = new DataLocation(message.Worker, message.Data, result.Size, result.TypeName);
            if (submission.Sink is { } sink)
            {
                sink.Finished(result.Key, location);
                continue;
            }
            submission.Locations[result.Key] = location;
            if (submission.Locations.Count == submission.Expected)
            {
                submission.Done = true;
                foreach (var key in submission.Keys) _submissions.Remove(key); // intermediates never report here
                ReportNow(submission); // the last count before the caller hears it ended
                submission.ReplyTo.Tell(new SubmissionCompleted(submission.Locations));
            }
        }
        ReportProgress(moved);
        SendWaiting();
    }

    /// <summary>One report per submission whose count moved in the message just handled and was not reported yet.</summary>
    private static void ReportProgress(List<Submission>? moved)
    {
        if (moved is null) return;
        foreach (var submission in moved) ReportNow(submission);
    }

    /// <summary>Reports the submission's counts if they moved since its last report. Its IProgress runs here, on the actor's thread.</summary>
    private static void ReportNow(Submission submission)
    {
        if (!submission.ProgressMoved) return;
        submission.ProgressMoved = false;
        submission.Progress!.Report(new ComputationProgress(submission.Expected, submission.FinishedCount, submission.FailedCount, submission.ResultBytes));
    }

    private void HandleTasksFailed(TasksFailed message)
    {
        List<Submission>? moved = null;
        foreach (var failure in message.Failures)
        {
            if (!_submissions.Remove(failure.Key, out var submission) || submission.Done) continue;
            if (submission.Progress is not null)
            {
                submission.FailedCount++;
                if (!submission.ProgressMoved) (moved ??= []).Add(submission);
                submission.ProgressMoved = true;
            }
            if (submission.Sink is { } sink)
            {
                // A future fails on its own; the center fails (and reports) the tasks that needed it.
                if (submission.Paced && !submission.Unsent.Remove(failure.Key))
                {
                    submission.Unfinished--;
                    _unfinished--;
                }
                sink.Failed(failure, message.Worker);
                continue;
            }
            Abandon(submission);
            if (submission.Progress is not null) ReportNow(submission);
            submission.ReplyTo.Tell(new SubmissionFailed(failure, message.Worker));
            // The caller gets an exception, not the results: nothing can reach the other keys of the
            // submission any more, so they are released (finished ones deleted, pending ones dropped).
            foreach (var key in submission.Keys) _submissions.Remove(key);
            _center.Tell(new ReleaseKeys(submission.Keys));
        }
        ReportProgress(moved);
    }

    private void HandleCancelSubmission(CancelSubmission message)
    {
        foreach (var key in message.Keys)
        {
            if (!_submissions.Remove(key, out var submission) || submission.Done) continue;
            if (submission.Sink is null)
            {
                Abandon(submission);
                continue;
            }
            // One future cancelled: the others of its submission go on.
            if (submission.Paced && !submission.Unsent.Remove(key))
            {
                submission.Unfinished--;
                _unfinished--;
            }
        }
        // Queued tasks are dropped by the center, running ones' results are deleted when they arrive,
        // and finished ones are released: the caller will never hold them.
        _center.Tell(new ReleaseKeys(message.Keys));
        SendWaiting();
    }

    private void HandleRequestAssemblies(RequestAssemblies message)
    {
        foreach (var assembly in message.Assemblies)
        {
            byte[]? bytes = null;
            if (_code.PathOf(assembly.Hash) is { } path)
            {
                try { bytes = File.ReadAllBytes(path); }
                catch (IOException e) { _log.Warning("Cannot read assembly {0} at {1}: {2}", assembly.Name, path, e.Message); }
            }
            Sender.Tell(new AssemblyBytes(assembly, bytes));
        }
    }

    private sealed class Submission(IActorRef replyTo, IReadOnlyList<string> keys, int expected, bool paced)
    {
        /// <summary>Whether its messages wait for room under <see cref="MaxUnfinishedTasks"/>.</summary>
        public bool Paced { get; } = paced;
        /// <summary>Its tasks sent to the center and not finished yet.</summary>
        public int Unfinished { get; set; }
        public IActorRef ReplyTo { get; } = replyTo;
        public IReadOnlyList<string> Keys { get; } = keys;
        /// <summary>The tasks whose completion is awaited: all but a graph's intermediates, which the center deletes.</summary>
        public int Expected { get; } = expected;
        public Dictionary<string, DataLocation> Locations { get; } = new(keys.Count);
        public bool Done { get; set; }
        /// <summary>Where each task's end goes, for a submission of futures; null: answer the submitter once.</summary>
        public IFutureSink? Sink { get; init; }
        /// <summary>Keys of a submission of futures still waiting here to be sent (a cancelled one is then never sent).</summary>
        public HashSet<string> Unsent { get; } = [];
        /// <summary>Hears how far the submission has come; null: nobody asked.</summary>
        public IProgress<ComputationProgress>? Progress { get; init; }
        public int FinishedCount { get; set; }
        public int FailedCount { get; set; }
        public long ResultBytes { get; set; }
        /// <summary>Whether its counts moved in the message being handled (it is reported once at its end).</summary>
        public bool ProgressMoved { get; set; }
    }
}
