using Distributed.Protocol;
using Xunit.Abstractions;

namespace Distributed.Tests.Center;

/// <summary>The center decides by a failure's kind, never by its type name, which user code chooses.</summary>
public sealed class CenterErrorKindTests(ITestOutputHelper output) : CenterSpec(output)
{
    [Fact]
    public async Task A_task_whose_worker_lost_its_input_runs_again()
    {
        var a = await RegisterWorkerAsync("a");
        var client = await ConnectClientAsync();
        Submit(client, Task("fetching-k"));
        await ExpectRunAsync(a, "fetching-k");

        Report(a, "fetching-k", RemoteError.Of(ErrorKind.InputLost, "the holder of its input did not answer"));

        await ExpectRunAsync(a, "fetching-k");
        await AssertNothingSentToAsync(client, "After an input loss");
    }

    [Fact]
    public async Task A_users_exception_named_like_an_input_loss_fails_the_task_and_is_not_run_again()
    {
        var a = await RegisterWorkerAsync("a");
        var client = await ConnectClientAsync();
        Submit(client, Task("impostor-k"));
        await ExpectRunAsync(a, "impostor-k");
        var thrown = new RemoteError(ErrorKind.UserCode, "Distributed.InputLostException", "thrown by the user", "   at UserCode.Run()");

        Report(a, "impostor-k", thrown);

        var failed = Assert.Single((await client.ExpectMsgAsync<TasksFailed>()).Failures);
        Assert.Equal(new FailedTask("impostor-k", thrown), failed);
        await AssertNothingSentToAsync(a.Probe, "After the user's exception");
    }

    [Fact]
    public async Task A_dependent_of_a_failed_task_fails_with_the_same_kind()
    {
        var a = await RegisterWorkerAsync("a");
        var client = await ConnectClientAsync();
        Submit(client, Task("timed-k"), Task("after-t", "timed-k"));
        await ExpectRunAsync(a, "timed-k");

        Report(a, "timed-k", RemoteError.Of(ErrorKind.TaskTimeout, "timed-k did not finish within 1 s"));

        await client.ExpectMsgAsync<TasksFailed>();
        var dependent = Assert.Single((await client.ExpectMsgAsync<TasksFailed>()).Failures);
        Assert.Equal("after-t", dependent.Key);
        Assert.Equal(ErrorKind.TaskTimeout, dependent.Error.Kind);
        Assert.Contains("timed-k", dependent.Error.Message);
    }

    private void Report(FakeWorker worker, string key, RemoteError error) =>
        Center.Tell(new TasksFailed(worker.Name, [new FailedTask(key, error)]), worker.Probe.Ref);
}
