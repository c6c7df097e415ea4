using Distributed.Protocol;
using Xunit.Abstractions;

namespace Distributed.Tests.Center;

/// <summary>A client's own key submitted again (a named or pure call) is not computed twice; another client's key is refused.</summary>
public sealed class CenterKeyReuseTests(ITestOutputHelper output) : CenterSpec(output)
{
    [Fact]
    public async Task A_key_the_client_already_holds_is_reported_at_once_and_not_run_again()
    {
        var a = await RegisterWorkerAsync("a");
        var client = await ConnectClientAsync();
        Submit(client, Task("named-k"));
        await ExpectRunAsync(a, "named-k");
        Finish(a, 42, "named-k");
        await client.ExpectMsgAsync<TasksFinished>();

        Submit(client, Task("named-k"));

        var again = await client.ExpectMsgAsync<TasksFinished>();
        Assert.Equal("a", again.Worker);
        Assert.Equal(a.Data, again.Data);
        Assert.Equal(new StoredKey("named-k", 42, "System.Int32"), Assert.Single(again.Results));
        await AssertNothingSentToAsync(a.Probe, "After the key was submitted again");
    }

    [Fact]
    public async Task A_key_whose_task_still_runs_is_reported_once_when_it_finishes()
    {
        var a = await RegisterWorkerAsync("a");
        var client = await ConnectClientAsync();
        Submit(client, Task("running-k"));
        await ExpectRunAsync(a, "running-k");

        Submit(client, Task("running-k"));
        await AssertNothingSentToAsync(a.Probe, "While it runs");
        Finish(a, "running-k");

        Assert.Equal("running-k", Assert.Single((await client.ExpectMsgAsync<TasksFinished>()).Results).Key);
        await AssertNothingSentToAsync(client, "After its one report");
    }

    [Fact]
    public async Task Another_clients_key_is_refused()
    {
        var a = await RegisterWorkerAsync("a");
        var owner = await ConnectClientAsync("owner");
        var other = await ConnectClientAsync("other");
        Submit(owner, Task("owned-k"));
        await ExpectRunAsync(a, "owned-k");
        Finish(a, "owned-k");
        await owner.ExpectMsgAsync<TasksFinished>();

        Submit(other, Task("owned-k"));

        var refused = Assert.Single((await other.ExpectMsgAsync<TasksFailed>()).Failures);
        Assert.Equal(ErrorKind.DuplicateKey, refused.Error.Kind);
        await AssertNothingSentToAsync(a.Probe, "After the refusal");
    }
}
