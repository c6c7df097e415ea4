using System.Net.Sockets;
using Akka.Actor;

namespace Distributed.Tests;

/// <summary>Small waits that several test classes share: a node's membership, a peer's close.</summary>
public static class TestNetwork
{
    /// <summary>Completes when <paramref name="system"/>'s own member is Up in its cluster.</summary>
    public static Task MemberUpAsync(ActorSystem system)
    {
        var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Akka.Cluster.Cluster.Get(system).RegisterOnMemberUp(() => up.TrySetResult());
        return up.Task;
    }

    /// <summary>Whether the peer closed <paramref name="socket"/>: a read returns 0 (or fails) within <paramref name="within"/>.</summary>
    public static async Task<bool> ClosedByPeerAsync(Socket socket, TimeSpan within)
    {
        var buffer = new byte[1 << 16];
        using var timeout = new CancellationTokenSource(within);
        try
        {
            while (await socket.ReceiveAsync(buffer, timeout.Token) > 0) { }
            return true;
        }
        catch (OperationCanceledException) { return false; }
        catch (SocketException) { return true; }
    }
}
