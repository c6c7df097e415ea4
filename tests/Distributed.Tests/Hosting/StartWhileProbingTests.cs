using Distributed.Protocol;

namespace Distributed.Tests.Hosting;

/// <summary>A node starts while the center is probed, and the probe's verdict comes first (worker and client share this).</summary>
public sealed class StartWhileProbingTests
{
    [Fact]
    public async Task Both_succeed_and_the_started_node_is_returned()
    {
        var stopped = false;
        var started = await NetworkAddresses.StartWhileProbingAsync(Task.CompletedTask, () => Task.FromResult("node"), _ => { stopped = true; return Task.CompletedTask; });
        Assert.Equal("node", started);
        Assert.False(stopped);
    }

    [Fact]
    public async Task A_failed_probe_stops_the_started_node_and_is_what_the_caller_hears()
    {
        string? stopped = null;
        var error = await Assert.ThrowsAsync<CenterUnreachableException>(() => NetworkAddresses.StartWhileProbingAsync(
            Task.FromException(new CenterUnreachableException("no center")), () => Task.FromResult("node"), node => { stopped = node; return Task.CompletedTask; }));
        Assert.Equal("no center", error.Message);
        Assert.Equal("node", stopped);
    }

    [Fact]
    public async Task When_both_fail_the_probe_speaks_first()
    {
        var error = await Assert.ThrowsAsync<CenterUnreachableException>(() => NetworkAddresses.StartWhileProbingAsync<string>(
            Task.FromException(new CenterUnreachableException("no center")), () => throw new InvalidOperationException("port in use"), _ => Task.CompletedTask));
        Assert.Equal("no center", error.Message);
    }

    [Fact]
    public async Task A_failed_start_after_a_good_probe_is_reported_as_it_is()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => NetworkAddresses.StartWhileProbingAsync<string>(
            Task.CompletedTask, () => Task.FromException<string>(new InvalidOperationException("port in use")), _ => Task.CompletedTask));
        Assert.Equal("port in use", error.Message);
    }
}
