using Distributed.Hosting;

namespace Distributed.Tests.Cluster;

/// <summary>
/// One real cluster (a dcenter and two dworker processes on 127.0.0.1) shared by the tests of a
/// collection, with a connected Pool. Tests that kill or restart processes start their own.
/// </summary>
public sealed class LocalClusterFixture : IAsyncLifetime
{
    public LocalCluster Cluster { get; private set; } = null!;
    public Pool Pool { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Cluster = await LocalCluster.StartAsync(workers: 2, threadsPerWorker: 2);
        Pool = await Cluster.ConnectAsync();
    }

    public async Task DisposeAsync()
    {
        await Pool.DisposeAsync();
        await Cluster.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class SharedClusterCollection : ICollectionFixture<LocalClusterFixture>
{
    public const string Name = "shared local cluster";
}
