using Akka.Actor;
using Distributed.Protocol;

namespace Distributed.Worker;

/// <summary>
/// The assemblies a worker is finding for its executors on demand (misses of their load contexts, which
/// no manifest listed): who waits for which name asked of which client, then for which file by hash. A
/// name is asked once per client however many executors wait for it, and a file fetched once.
/// </summary>
internal sealed class OnDemandAssemblies
{
    private readonly Dictionary<(string Client, string Name), List<Waiter>> _byName = [];
    private readonly Dictionary<string, (string Client, AssemblyRef Assembly, List<Waiter> Waiters)> _byHash = new(StringComparer.Ordinal);

    /// <summary>Adds a waiter for <paramref name="name"/>; true when the client must be asked (nobody asked it yet).</summary>
    public bool AwaitName(string client, string name, Waiter waiter)
    {
        if (_byName.TryGetValue((client, name), out var waiting))
        {
            waiting.Add(waiter);
            return false;
        }
        _byName[(client, name)] = [waiter];
        return true;
    }

    /// <summary>The waiters for the client's answer about <paramref name="name"/> (none when it was not asked, or already answered).</summary>
    public List<Waiter> NameAnswered(string client, string name) => _byName.Remove((client, name), out var waiting) ? waiting : [];

    /// <summary>Makes <paramref name="waiters"/> wait for the file's bytes; true when the client must be asked for them.</summary>
    public bool AwaitBytes(string client, AssemblyRef assembly, List<Waiter> waiters)
    {
        if (_byHash.TryGetValue(assembly.Hash, out var fetch))
        {
            fetch.Waiters.AddRange(waiters);
            return false;
        }
        _byHash[assembly.Hash] = (client, assembly, waiters);
        return true;
    }

    /// <summary>Whether these bytes were asked of <paramref name="client"/> for waiting executors.</summary>
    public bool AwaitsBytes(string hash, string? client) => _byHash.TryGetValue(hash, out var fetch) && fetch.Client == client;

    /// <summary>The waiters for the bytes of <paramref name="hash"/>, which have arrived (or failed).</summary>
    public List<Waiter> BytesArrived(string hash) => _byHash.Remove(hash, out var fetch) ? fetch.Waiters : [];

    /// <summary>An executor's question: its actor and the id its answer repeats.</summary>
    public sealed record Waiter(IActorRef Executor, long RequestId);
}
