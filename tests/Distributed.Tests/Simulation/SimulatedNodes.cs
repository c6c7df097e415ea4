using Distributed.Center.Core;
using Distributed.Protocol;

namespace Distributed.Tests.Simulation;

/// <summary>A batch of tasks a simulated worker was sent: it runs once its remote inputs are fetched.</summary>
internal sealed class SimulatedBatch(IReadOnlyList<TaskSpec> tasks, IReadOnlyList<RemoteInput> remote)
{
    public IReadOnlyList<TaskSpec> Tasks { get; } = tasks;
    public IReadOnlyList<RemoteInput> Remote { get; } = remote;
    public bool Fetched { get; set; }
}

/// <summary>
/// A dworker process as the simulation plays it: a store, tasks it was sent, fetches in flight, and
/// the messages in flight each way (each way in order, as Akka delivers between two actors).
/// </summary>
internal sealed class SimulatedWorker(int index, int cores)
{
    public int Index { get; } = index;
    public string Name => $"w{Index}";
    public int Cores { get; } = cores;
    public DataEndpoint Data { get; } = new($"10.0.0.{index % 250 + 1}", 9000 + index);

    /// <summary>GPUs it offers: one on every other worker (w0, w2, ...), none on the rest.</summary>
    public int Gpus => Index % 2 == 0 ? 1 : 0;
    public IReadOnlyDictionary<string, double>? Resources => Gpus > 0 ? new Dictionary<string, double> { ["GPU"] = Gpus } : null;

    /// <summary>Whether its process lives (a paused one lives).</summary>
    public bool Alive { get; set; } = true;
    public bool Paused { get; set; }

    /// <summary>Its registration with the center, if it has one the center has not forgotten.</summary>
    public WorkerId? Id { get; set; }

    /// <summary>The center forgot it while its process lived (it was paused): it joins again when it can.</summary>
    public bool MustRejoin { get; set; }

    /// <summary>The center it last registered with, which it tells when it joins again.</summary>
    public string? KnownCenter { get; set; }

    public SortedDictionary<string, long> Store { get; } = new(StringComparer.Ordinal);
    public SortedDictionary<string, SimulatedBatch> Running { get; } = new(StringComparer.Ordinal);
    public List<SimulatedBatch> Fetching { get; } = [];
    public List<FetchKeys> Replications { get; } = [];
    public Queue<object> Inbox { get; } = new();
    public Queue<CenterEvent> Outbox { get; } = new();

    /// <summary>Loses everything a new actor system would not have: tasks, fetches and messages in flight (the store stays).</summary>
    public void ForgetSession()
    {
        Running.Clear();
        Fetching.Clear();
        Replications.Clear();
        Inbox.Clear();
        Outbox.Clear();
    }
}

/// <summary>A client program (a Pool) as the simulation plays it: what it submitted, waits for, keeps and asked.</summary>
internal sealed class SimulatedClient(int index)
{
    public int Index { get; } = index;
    public ClientId? Id { get; set; }

    /// <summary>Whether the program is still connected (it has not left or crashed).</summary>
    public bool Connected { get; set; } = true;

    /// <summary>Whether its process died (rather than the program disconnecting).</summary>
    public bool Crashed { get; set; }

    public HashSet<string> Submitted { get; } = new(StringComparer.Ordinal);
    public SortedSet<string> Owned { get; } = new(StringComparer.Ordinal);
    public SortedSet<string> Waiting { get; } = new(StringComparer.Ordinal);
    public HashSet<long> OpenQuestions { get; } = [];
    public long NextRequest { get; set; }
    public Queue<object> Inbox { get; } = new();
    public Queue<CenterEvent> Outbox { get; } = new();
}
