using Distributed.Protocol;

namespace Distributed.Center.Core;

/// <summary>What the center knows of one worker.</summary>
internal sealed class WorkerEntry(WorkerId id, string name, string address, int cores, DataEndpoint data,
    IReadOnlyDictionary<string, double>? resources = null)
{
    public WorkerId Id { get; } = id;
    public string Name { get; } = name;
    public string Address { get; } = address;
    public int Cores { get; } = Math.Max(1, cores);
    public DataEndpoint Data { get; } = data;

    /// <summary>Whether it is retiring: it gets no tasks, copies or scattered values, and leaves once its values are handed over.</summary>
    public bool Retiring { get; set; }

    /// <summary>Tasks sent to the worker that have not finished yet.</summary>
    public int Load { get; set; }

    /// <summary>Graph tasks among <see cref="Load"/> that add a value without freeing an input (a graph's leaves, say).</summary>
    public int AddingInFlight { get; set; }

    /// <summary>What it offers to tasks that ask for resources (<c>dworker --resources</c>); null: nothing.</summary>
    public IReadOnlyDictionary<string, double>? Resources { get; } = resources is { Count: > 0 } ? resources : null;

    /// <summary>Resources taken by the tasks sent here that asked for some, until they end; null while none runs.</summary>
    public Dictionary<string, double>? ResourcesInUse { get; private set; }

    /// <summary>Tasks among <see cref="Load"/> that took resources.</summary>
    public int ResourceTasks { get; private set; }

    /// <summary>Counts a task sent here as no longer running here: finished, failed, dropped or taken back.</summary>
    public void Unload(PendingTask task)
    {
        Load--;
        if (task.TookResources) GiveBack(task);
        if (!task.AddsValue) return;
        AddingInFlight--;
        task.AddsValue = false;
    }

    /// <summary>Whether <paramref name="wanted"/> is free here now (a resource it does not have is never free).</summary>
    public bool HasFree(IReadOnlyDictionary<string, double> wanted)
    {
        foreach (var (name, amount) in wanted)
        {
            if (amount <= 0) continue;
            if (Resources is null || !Resources.TryGetValue(name, out var total)) return false;
            var inUse = ResourcesInUse is null ? 0 : ResourcesInUse.GetValueOrDefault(name);
            if (inUse + amount > total * (1 + 1e-12)) return false;
        }
        return true;
    }

    /// <summary>Whether <paramref name="wanted"/> fits in what it offers at all, free or not.</summary>
    public bool Offers(IReadOnlyDictionary<string, double> wanted)
    {
        foreach (var (name, amount) in wanted)
            if (amount > 0 && (Resources is null || !Resources.TryGetValue(name, out var total) || amount > total * (1 + 1e-12))) return false;
        return true;
    }

    /// <summary>Takes the resources <paramref name="task"/> asks for, as it is sent here.</summary>
    public void Take(PendingTask task)
    {
        var wanted = task.Spec.Restrictions!.Resources;
        if (wanted.Count == 0) return;
        ResourcesInUse ??= new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var (name, amount) in wanted) ResourcesInUse[name] = ResourcesInUse.GetValueOrDefault(name) + amount;
        ResourceTasks++;
        task.TookResources = true;
    }

    private void GiveBack(PendingTask task)
    {
        task.TookResources = false;
        // Once nothing holds resources, nothing is in use: no rounding left over from the sums.
        if (--ResourceTasks == 0)
        {
            ResourcesInUse = null;
            return;
        }
        foreach (var (name, amount) in task.Spec.Restrictions!.Resources) ResourcesInUse![name] -= amount;
    }

    public HashSet<string> Keys { get; } = [];
    public long StoredBytes { get; set; }

    /// <summary>Keys it was told to fetch a copy of (task inputs, replications): the only copies it may report.</summary>
    public HashSet<string> ExpectedCopies { get; } = [];

    /// <summary>Graph intermediates stored here that tasks have still to read: the memory that bounds its graph window.</summary>
    public int HeldIntermediates { get; set; }

    /// <summary>Tasks ready and meant for this worker, waiting for room in its window (lowest priority first).</summary>
    public PriorityQueue<PendingTask, long> Held { get; } = new();

    /// <summary>Tasks sent or meant for it, per core: the measure by which workers are compared.</summary>
    public double Busyness => (double)(Load + Held.Count) / Cores;

    /// <summary>Tasks it finishes per second while busy (a moving average), which sizes its window.</summary>
    public double TasksPerSecond { get; set; }

    /// <summary>When it last reported finished tasks, or went from idle to busy if later (clock timestamps; 0: never).</summary>
    public long RateSince { get; set; }

    /// <summary>Whether a probe of its data port is in flight.</summary>
    public bool Probing { get; set; }

    public WorkerInfo Describe() => new(Name, Address, Cores, Keys.Count, StoredBytes, Data, Resources, Retiring ? WorkerState.Retiring : WorkerState.Active);

    /// <summary>Whether it is one of the workers a task allows: by name or by host:port address.</summary>
    public bool IsAllowed(TaskRestrictions restrictions)
    {
        if (restrictions.Workers.Count == 0) return true;
        foreach (var allowed in restrictions.Workers)
            if (string.Equals(allowed, Name, StringComparison.Ordinal) || string.Equals(allowed, Address, StringComparison.Ordinal)) return true;
        return false;
    }

    /// <summary>Whether it could ever run a task with <paramref name="restrictions"/>: allowed, and offering enough.</summary>
    public bool CouldRun(TaskRestrictions restrictions) => IsAllowed(restrictions) && Offers(restrictions.Resources);
}

/// <summary>What the center knows of one stored key.</summary>
internal sealed class KeyEntry(string key, long size, string typeName)
{
    public string Key { get; } = key;
    public long Size { get; set; } = size;
    public string TypeName { get; set; } = typeName;
    public List<WorkerEntry> Holders { get; } = new(1);

    /// <summary>Tasks still to read this intermediate before it is deleted; 0 keeps it until released.</summary>
    public int RemainingConsumers { get; set; }

    /// <summary>Whether it counts in its holders' <see cref="WorkerEntry.HeldIntermediates"/>: made to be read and then deleted.</summary>
    public bool IsIntermediate { get; set; }
}

/// <summary>A task that has not finished: waiting for inputs, or running on <see cref="AssignedTo"/>.</summary>
internal sealed class PendingTask(TaskSpec spec, ClientId client, CodeManifest code)
{
    public TaskSpec Spec { get; } = spec;
    public ClientId Client { get; } = client;
    public CodeManifest Code { get; } = code;
    public int WaitingFor { get; set; }
    public WorkerEntry? AssignedTo { get; set; }

    /// <summary>The worker its client handed it to directly (it runs there already): it is sent there, to be recorded, while that worker lives.</summary>
    public WorkerEntry? DirectTo { get; set; }

    /// <summary>Whether it is counted in its worker's <see cref="WorkerEntry.AddingInFlight"/>.</summary>
    public bool AddsValue { get; set; }

    /// <summary>Whether it holds resources of its worker (<see cref="WorkerEntry.ResourcesInUse"/>).</summary>
    public bool TookResources { get; set; }

    /// <summary>Whether it waits in the center's queue of restricted tasks (never in a worker's <see cref="WorkerEntry.Held"/>).</summary>
    public bool InRestrictedQueue { get; set; }

    /// <summary>For a graph's input task (no dependencies): its place among the graph's inputs, from 0 to 1.</summary>
    public double? InputShare { get; set; }

    /// <summary>
    /// Set when the task runs again to remake a value lost with a worker: its client already has its
    /// completion, and the remade value must be read as many more times as the lost one still was.
    /// </summary>
    public int? RemakeForConsumers { get; set; }

    /// <summary>Workers that died while running this task.</summary>
    public int WorkerDeaths { get; set; }

    /// <summary>Times the task was sent back because an input could not be fetched, to stop a loop.</summary>
    public int InputRetries { get; set; }

    /// <summary>Whether it is still in the task table (not finished, failed or dropped).</summary>
    public bool Current { get; set; } = true;
}

/// <summary>What the center knows of one connected client.</summary>
internal sealed class ClientEntry(ClientId id)
{
    public ClientId Id { get; } = id;
    public HashSet<string> Keys { get; } = [];
    public HashSet<string> PendingTasks { get; } = [];

    /// <summary>Tasks accepted since it connected (intermediates included).</summary>
    public long Submitted { get; set; }

    /// <summary>Tasks finished since it connected (intermediates included, values made again after a loss not).</summary>
    public long Finished { get; set; }

    /// <summary>Tasks it was told failed since it connected.</summary>
    public long Failed { get; set; }

    /// <summary>Bytes of the results of <see cref="Finished"/>.</summary>
    public long ResultBytes { get; set; }

    /// <summary>Whether <paramref name="keyName"/> is one of its values or pending tasks.</summary>
    public bool Owns(string keyName) => Keys.Contains(keyName) || PendingTasks.Contains(keyName);
}
