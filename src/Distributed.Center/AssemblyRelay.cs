using Akka.Actor;
using Akka.Event;
using Distributed.Protocol;

namespace Distributed.Center;

/// <summary>
/// The center's stand-in for one client's code, a child of the center actor: the workers are given it
/// (in <see cref="RunTasks"/>) in place of the client, so they never dial a client, which may accept no
/// connection (behind NAT or a firewall). It asks the client, over the connection the client opened, for
/// the assemblies workers request, once however many workers wait for one, and hands the bytes to each of
/// them; likewise which assembly a name is, when an executor misses one that no manifest listed. Only the client's answers are relayed; each worker checks the bytes against the hash it asked for.
/// </summary>
internal sealed class AssemblyRelay : ReceiveActor
{
    private readonly IActorRef _client;
    private readonly Refusals _refusals;
    /// <summary>The workers waiting for each assembly asked of the client, by its hash.</summary>
    private readonly Dictionary<string, List<IActorRef>> _waiting = new(StringComparer.Ordinal);
    /// <summary>The workers waiting to hear which assembly a name is, by the name asked of the client.</summary>
    private readonly Dictionary<string, List<IActorRef>> _waitingForName = new(StringComparer.Ordinal);

    public AssemblyRelay(IActorRef client)
    {
        _client = client;
        _refusals = new Refusals(Context.GetLogger(), "The center's assembly relay");
        Receive<RequestAssemblies>(HandleRequest);
        Receive<AssemblyBytes>(HandleBytes);
        Receive<ResolveAssemblyName>(HandleResolveName);
        Receive<AssemblyNameResolved>(HandleNameResolved);
    }

    public static Props Props(IActorRef client) => Akka.Actor.Props.Create(() => new AssemblyRelay(client));

    private void HandleRequest(RequestAssemblies message)
    {
        List<AssemblyRef>? ask = null;
        foreach (var assembly in message.Assemblies)
        {
            if (!_waiting.TryGetValue(assembly.Hash, out var workers))
            {
                _waiting[assembly.Hash] = workers = [];
                (ask ??= []).Add(assembly);
            }
            if (!workers.Contains(Sender)) workers.Add(Sender);
        }
        if (ask is not null) _client.Tell(new RequestAssemblies(ask));
    }

    private void HandleBytes(AssemblyBytes message)
    {
        if (!Sender.Equals(_client))
        {
            _refusals.Refuse(Sender, message, "only the client whose code this is sends its assemblies");
            return;
        }
        if (!_waiting.Remove(message.Assembly.Hash, out var workers)) return;
        foreach (var worker in workers) worker.Tell(message);
    }

    /// <summary>A worker's executor missed an assembly no manifest listed: the client is asked once per name, however many wait.</summary>
    private void HandleResolveName(ResolveAssemblyName message)
    {
        if (!_waitingForName.TryGetValue(message.Name, out var workers))
        {
            _waitingForName[message.Name] = workers = [];
            _client.Tell(message);
        }
        if (!workers.Contains(Sender)) workers.Add(Sender);
    }

    private void HandleNameResolved(AssemblyNameResolved message)
    {
        if (!Sender.Equals(_client))
        {
            _refusals.Refuse(Sender, message, "only the client whose code this is says which assembly a name is");
            return;
        }
        if (!_waitingForName.Remove(message.Name, out var workers)) return;
        foreach (var worker in workers) worker.Tell(message);
    }
}
