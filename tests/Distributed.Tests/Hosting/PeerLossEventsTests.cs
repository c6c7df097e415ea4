using Akka.Event;
using Distributed.Center.Core;
using Distributed.Protocol.Hosting;
using AkkaLevel = Akka.Event.LogLevel;

namespace Distributed.Tests.Hosting;

/// <summary>
/// Akka's reports of a peer that went away are written at debug, so that a killed worker costs the
/// logs one information line of the center's, not four warnings and an error per node; what a user
/// must act on keeps its level. The texts are Akka's own, as they were seen on a node when a worker died.
/// </summary>
public sealed class PeerLossEventsTests
{
    private const string Peer = "akka.tcp://distributed@127.0.0.1:8789";

    public static TheoryData<string> PeerLossTexts => new()
    {
        $"Association with remote system {Peer} has failed; address is now gated for 5000 ms. Reason is: [Akka.Remote.EndpointDisassociatedException: Disassociated",
        "Disassociated",
        $"Association to [{Peer}] having UID [1900693677] is irrecoverably failed. UID is now quarantined and all messages to this UID will be delivered to dead letters. Remote actorsystem must be restarted to recover from this situation.",
        $"Cluster Node [akka.tcp://distributed@127.0.0.1:42509] - Marking node(s) as UNREACHABLE [Member(address = {Peer}, Uid=1900693677 status = Down, role=[worker], upNumber=3, version=0.0.0)]. Node roles [center]",
        $"Tried to associate with unreachable remote address [{Peer}]. Address is now gated for 5000 ms, all messages to this address will be delivered to dead letters.",
    };

    [Theory]
    [MemberData(nameof(PeerLossTexts))]
    public void A_peer_going_away_is_written_at_debug(string text)
    {
        Assert.Equal(AkkaLevel.DebugLevel, PeerLossEvents.LevelOf(new Warning("endpointWriter", typeof(PeerLossEventsTests), text)));
        Assert.Equal(AkkaLevel.DebugLevel, PeerLossEvents.LevelOf(new Error(null, "endpointWriter", typeof(PeerLossEventsTests), text)));
    }

    [Theory]
    [InlineData("status = Up")]
    [InlineData("status = Joining")]
    public void A_member_marked_unreachable_before_it_is_downed_keeps_its_warning(string status)
    {
        var text = $"Cluster Node [x] - Marking node(s) as UNREACHABLE [Member(address = {Peer}, Uid=1 {status}, role=[worker], upNumber=3, version=0.0.0)]. Node roles [center]";
        Assert.Equal(AkkaLevel.WarningLevel, PeerLossEvents.LevelOf(new Warning("daemon", typeof(PeerLossEventsTests), text)));
    }

    [Theory]
    [InlineData("Downing akka.tcp://distributed@127.0.0.1:8789: unreachable for 1 s.")]
    [InlineData("Worker w1 has no executor 3 any more; a command for it is dropped")]
    [InlineData("Message [RunTasks] from x to y was not delivered.")]
    public void Anything_else_keeps_its_level(string text)
    {
        Assert.Equal(AkkaLevel.WarningLevel, PeerLossEvents.LevelOf(new Warning("source", typeof(PeerLossEventsTests), text)));
        Assert.Equal(AkkaLevel.ErrorLevel, PeerLossEvents.LevelOf(new Error(new InvalidOperationException("boom"), "source", typeof(PeerLossEventsTests), text)));
    }

    [Fact]
    public void The_centers_line_for_a_lost_worker_says_what_is_redone()
    {
        Assert.Equal("", CenterCore.RecoverySummary(0, 0, 0));
        Assert.Equal("; 1 task to run again elsewhere", CenterCore.RecoverySummary(1, 0, 0));
        Assert.Equal("; 12 tasks to run again elsewhere, 3 lost values to make again from lineage, 1 task failed (see the errors)", CenterCore.RecoverySummary(12, 3, 1));
    }
}
