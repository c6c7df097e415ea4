using Akka.Actor;
using Akka.Configuration;
using Distributed.Protocol;
using Distributed.Protocol.Security;

namespace Distributed.Tests;

/// <summary>Nodes a test starts in its own process as the programs make them (<see cref="ClusterConfig.CreateSystem"/>), all stopped on dispose.</summary>
public sealed class InProcessNodes : IAsyncDisposable
{
    private readonly List<ActorSystem> _systems = [];

    /// <summary>A node of <paramref name="role"/> on 127.0.0.1:<paramref name="port"/> joining <paramref name="center"/>, with <paramref name="settings"/> (HOCON) above the rest.</summary>
    public ActorSystem Start(Role role, int port, HostPort center, ClusterCredentials? credentials, Action<string, string>? onRejected = null, string settings = "")
    {
        var system = ClusterConfig.CreateSystem(role, "127.0.0.1", port, center, credentials, onRejected,
            settings: settings.Length == 0 ? null : ConfigurationFactory.ParseString(settings));
        lock (_systems) _systems.Add(system);
        return system;
    }

    public async ValueTask DisposeAsync()
    {
        List<ActorSystem> started;
        lock (_systems) started = [.. _systems];
        await Task.WhenAll(started.Select(s => s.Terminate()));
    }
}
