namespace Distributed.Center.Core;

/// <summary>Read access to the core's parts, for the simulation's invariant checks (tests only).</summary>
public sealed partial class CenterCore
{
    internal WorkerRegistry Workers => _workers;
    internal ClientRegistry Clients => _clients;
    internal KeyTable Keys => _keys;
    internal TaskTable Tasks => _tasks;
    internal LineageGraph Lineage => _lineage;
    internal Placement Placement => _placement;
    internal CenterSettings Settings => _settings;
    internal int ParkedWhoHas => _whoHasWaiting.Count;
    internal int OpenReplications => _replications.Count;
    internal IReadOnlyCollection<string> DatasetNames => _datasets.Keys;
    internal IReadOnlyList<string> DatasetKeys(string name) => _datasets[name];
}
