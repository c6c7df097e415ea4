namespace Distributed.Center.Core;

/// <summary>The registered workers, by id and by name.</summary>
internal sealed class WorkerRegistry
{
    private readonly Dictionary<WorkerId, WorkerEntry> _byId = [];
    // By name, in order of registration: the order placement visits workers in.
    private readonly Dictionary<string, WorkerEntry> _byName = [];
    private WorkerEntry[]? _byNameOrdinal; // for graph inputs' shares; reset when workers come and go

    public int Count => _byName.Count;
    public IReadOnlyCollection<WorkerEntry> All => _byName.Values;

    public bool TryGet(WorkerId id, out WorkerEntry worker) => _byId.TryGetValue(id, out worker!);
    public bool TryGet(string name, out WorkerEntry worker) => _byName.TryGetValue(name, out worker!);

    /// <summary>A name no registered worker has: the one asked for, else with #2, #3, … added.</summary>
    public string FreeName(string asked)
    {
        var name = asked;
        for (var n = 2; _byName.ContainsKey(name); n++) name = $"{asked}#{n}";
        return name;
    }

    public void Add(WorkerEntry worker)
    {
        _byId.Add(worker.Id, worker);
        _byName.Add(worker.Name, worker);
        _byNameOrdinal = null;
    }

    public bool Remove(WorkerId id, out WorkerEntry worker)
    {
        if (!_byId.Remove(id, out worker!)) return false;
        _byName.Remove(worker.Name);
        _byNameOrdinal = null;
        return true;
    }

    /// <summary>The workers sorted by name (ordinal).</summary>
    public WorkerEntry[] ByName() => _byNameOrdinal ??= _byName.Values.OrderBy(w => w.Name, StringComparer.Ordinal).ToArray();
}

/// <summary>The connected clients: what each owns (its values and its pending tasks).</summary>
internal sealed class ClientRegistry
{
    private readonly Dictionary<ClientId, ClientEntry> _clients = [];

    public IReadOnlyCollection<ClientEntry> All => _clients.Values;
    public bool Contains(ClientId id) => _clients.ContainsKey(id);
    public bool TryGet(ClientId id, out ClientEntry client) => _clients.TryGetValue(id, out client!);

    /// <summary>Adds the client if it is new; false if it was connected already.</summary>
    public bool Add(ClientId id)
    {
        if (_clients.ContainsKey(id)) return false;
        _clients[id] = new ClientEntry(id);
        return true;
    }

    public bool Remove(ClientId id, out ClientEntry client) => _clients.Remove(id, out client!);

    /// <summary>Whether a client other than <paramref name="client"/> has <paramref name="keyName"/> as a value or a pending task.</summary>
    public bool OwnedByAnother(ClientEntry client, string keyName)
    {
        foreach (var other in _clients.Values)
            if (other != client && other.Owns(keyName)) return true;
        return false;
    }

    /// <summary>Whether any client has <paramref name="keyName"/> among its values.</summary>
    public bool AnyKeeps(string keyName)
    {
        foreach (var client in _clients.Values)
            if (client.Keys.Contains(keyName)) return true;
        return false;
    }
}
