namespace Distributed.Center.Core;

/// <summary>
/// The tasks that have not finished, which tasks wait for which keys, and the tasks taken back after
/// an input loss. A task leaves by <see cref="Remove"/> only, whatever the reason (finished, failed,
/// dropped with its client, released), so every table and account forgets it at once.
/// </summary>
internal sealed class TaskTable
{
    private readonly Dictionary<string, PendingTask> _tasks = [];
    private readonly Dictionary<string, List<PendingTask>> _dependents = [];
    private readonly HashSet<PendingTask> _parked = [];

    public int Count => _tasks.Count;
    public IReadOnlyCollection<PendingTask> All => _tasks.Values;
    public bool Contains(string key) => _tasks.ContainsKey(key);
    public bool TryGet(string key, out PendingTask task) => _tasks.TryGetValue(key, out task!);

    /// <summary>Tasks waiting for some key, by key (for the simulation's checks).</summary>
    public IReadOnlyDictionary<string, List<PendingTask>> Dependents => _dependents;

    /// <summary>Tasks taken back after an input loss, waiting for probes or inputs (for the simulation's checks).</summary>
    public IReadOnlyCollection<PendingTask> Parked => _parked;

    /// <summary>Adds a task, counting it among its client's pending tasks.</summary>
    public void Add(PendingTask task, ClientEntry client)
    {
        _tasks[task.Spec.Key] = task;
        client.PendingTasks.Add(task.Spec.Key);
    }

    /// <summary>
    /// The one way a task leaves: it is no longer current, its worker's load drops, its client no
    /// longer waits for it, and it is no longer parked. What waited for it is the caller's to decide
    /// (<see cref="TakeDependents"/>).
    /// </summary>
    public void Remove(PendingTask task, ClientEntry? client)
    {
        if (!task.Current) return;
        task.Current = false;
        _tasks.Remove(task.Spec.Key);
        task.AssignedTo?.Unload(task);
        client?.PendingTasks.Remove(task.Spec.Key);
        _parked.Remove(task);
    }

    /// <summary>Makes <paramref name="task"/> wait for <paramref name="input"/>: it is ready again once that key is stored.</summary>
    public void WaitFor(PendingTask task, string input)
    {
        task.WaitingFor++;
        if (!_dependents.TryGetValue(input, out var waiting)) _dependents[input] = waiting = [];
        waiting.Add(task);
    }

    /// <summary>The tasks that waited for <paramref name="key"/>, which no longer wait in this table.</summary>
    public List<PendingTask>? TakeDependents(string key) => _dependents.Remove(key, out var dependents) ? dependents : null;

    /// <summary>Takes a task back after an input loss: it goes out again once its inputs are sorted out.</summary>
    public void Park(PendingTask task) => _parked.Add(task);

    /// <summary>The parked tasks that wait for nothing now; the others are no longer parked either (they go out when their inputs are stored).</summary>
    public List<PendingTask> TakeParked()
    {
        var ready = _parked.Where(t => t.Current && t.WaitingFor == 0 && t.AssignedTo is null).ToList();
        _parked.Clear();
        return ready;
    }
}

/// <summary>
/// How each computed value was made (the task that made it), kept while the value, or a value made
/// from it, may still be needed: a value lost with a worker is made again from this, upstream as far
/// as needed.
/// </summary>
internal sealed class LineageGraph
{
    private readonly Dictionary<string, Node> _nodes = [];

    private sealed class Node(PendingTask producer)
    {
        public PendingTask Producer { get; } = producer;

        /// <summary>The value itself while its client keeps it, plus the lineages that read it.</summary>
        public int References { get; set; } = 1;

        /// <summary>Whether the value's own reference is still counted (it has not been released or consumed).</summary>
        public bool Live { get; set; } = true;
    }

    public int Count => _nodes.Count;
    public IEnumerable<string> Keys => _nodes.Keys;

    /// <summary>The task that made <paramref name="key"/>, if its lineage is kept.</summary>
    public PendingTask? ProducerOf(string key) => _nodes.TryGetValue(key, out var node) ? node.Producer : null;

    /// <summary>Keeps how a value was made, and counts it as a reader of its inputs' lineages.</summary>
    public void Record(PendingTask task)
    {
        _nodes[task.Spec.Key] = new Node(task);
        foreach (var input in Inputs.Unique(task.Spec.Dependencies))
            if (_nodes.TryGetValue(input, out var parent)) parent.References++;
    }

    /// <summary>A value was released or consumed: its lineage, and upstream what only it needed, is forgotten.</summary>
    public void Forget(string keyName)
    {
        if (!_nodes.TryGetValue(keyName, out var node) || !node.Live) return;
        node.Live = false;
        if (--node.References > 0) return;
        _nodes.Remove(keyName);
        if (node.Producer.Spec.Dependencies.Count == 0) return; // most values: nothing upstream
        var unreferenced = new Stack<Node>();
        unreferenced.Push(node);
        while (unreferenced.TryPop(out var next))
        {
            foreach (var input in Inputs.Unique(next.Producer.Spec.Dependencies))
            {
                if (!_nodes.TryGetValue(input, out var parent) || --parent.References > 0) continue;
                _nodes.Remove(input);
                unreferenced.Push(parent);
            }
        }
    }
}

/// <summary>Task inputs.</summary>
internal static class Inputs
{
    /// <summary>A task's inputs, each once: most tasks have zero to a few distinct inputs, and allocate nothing here.</summary>
    public static IReadOnlyList<string> Unique(IReadOnlyList<string> inputs)
    {
        if (inputs.Count <= 1) return inputs;
        if (inputs.Count <= 8)
        {
            for (var i = 1; i < inputs.Count; i++)
                for (var j = 0; j < i; j++)
                    if (string.Equals(inputs[i], inputs[j], StringComparison.Ordinal)) return inputs.Distinct().ToList();
            return inputs;
        }
        return inputs.Distinct().ToList();
    }
}
