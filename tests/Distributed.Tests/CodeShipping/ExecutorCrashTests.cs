using Distributed.Hosting;

namespace Distributed.Tests.CodeShipping;

/// <summary>
/// User code runs in executor processes, not in the worker: user code that ends its own process
/// fails its call, and the worker, its stored data and its later calls are unharmed.
/// </summary>
[Collection(PlainWorkersCollection.Name)]
[ProcessTier]
public sealed class ExecutorCrashTests : IAsyncLifetime
{
    private PlainCluster _plain = null!;

    private Pool Pool => _plain.Pool;
    private LocalCluster Cluster => _plain.Cluster;

    public async Task InitializeAsync() => _plain = await PlainCluster.StartAsync(workers: 2, threadsPerWorker: 1);

    public async Task DisposeAsync()
    {
        if (_plain is not null) await _plain.DisposeAsync();
    }

    [Fact]
    public void User_code_that_ends_its_process_fails_its_call_and_the_workers_keep_their_data_and_serve()
    {
        var kept = Pool.Map(x => x * 7, Enumerable.Range(0, 20));
        var workers = Pool.Workers().Select(w => w.Name).Order().ToList();

        var error = Assert.Throws<RemoteTaskException>(() => Pool.Map(x => x == 5 ? Exit(x) : x, Enumerable.Range(0, 10)));

        Assert.False(string.IsNullOrWhiteSpace(error.Key), $"The error has no key: {error}");
        Assert.All(Cluster.Workers, w => Assert.False(w.HasExited, $"dworker {w.Id} exited: {string.Join(Environment.NewLine, w.Output)}"));
        Assert.Equal(workers, Pool.Workers().Select(w => w.Name).Order().ToList());
        Assert.Equal(Enumerable.Range(0, 20).Select(x => x * 7), Pool.Gather(kept));
        var later = Pool.Map(x => x + 1, Enumerable.Range(0, 20));
        Assert.Equal(Enumerable.Range(1, 20), Pool.Gather(later));
    }

    private static int Exit(int code)
    {
        Environment.Exit(code);
        return code;
    }
}
