using Distributed.Protocol;

namespace Distributed.Client;

/// <summary>
/// The workers a pool may hand a single task to directly: those that finished a task of the same code
/// for it (so that code is loaded there), taken in turn. A worker that declines is dropped for that code
/// until it finishes another of its tasks through the center.
/// </summary>
internal sealed class DirectTargets
{
    private readonly object _gate = new();
    private readonly List<DirectTarget> _workers = [];
    private readonly HashSet<(string Worker, string Version)> _ready = [];
    private int _next;

    /// <summary>The worker at <paramref name="location"/> ran code <paramref name="version"/> for this pool.</summary>
    public void Learn(DataLocation location, string version)
    {
        lock (_gate)
        {
            var index = _workers.FindIndex(w => w.Name == location.Worker);
            if (index < 0) _workers.Add(new DirectTarget(location.Worker, location.Data));
            else if (_workers[index].Data != location.Data) _workers[index] = new DirectTarget(location.Worker, location.Data);
            _ready.Add((location.Worker, version));
        }
    }

    /// <summary>The next worker, in turn, that has code <paramref name="version"/> loaded; null when none is known.</summary>
    public DirectTarget? Next(string version)
    {
        lock (_gate)
        {
            for (var i = 0; i < _workers.Count; i++)
            {
                var candidate = _workers[(_next + i) % _workers.Count];
                if (!_ready.Contains((candidate.Name, version))) continue;
                _next = (_next + i + 1) % _workers.Count;
                return candidate;
            }
            return null;
        }
    }

    /// <summary>The worker declined a task of code <paramref name="version"/>: not asked again for it until it runs one through the center.</summary>
    public void Declined(DirectTarget worker, string version)
    {
        lock (_gate) _ready.Remove((worker.Name, version));
    }
}

/// <summary>A worker a task can be handed to directly: its name (as the center knows it) and its data channel.</summary>
internal sealed record DirectTarget(string Name, DataEndpoint Data);
