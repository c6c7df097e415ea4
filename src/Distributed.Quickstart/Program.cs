using Distributed;
using Distributed.Hosting;

// The quickstart of DESIGN.md. With no argument it starts an embedded local cluster (a center and
// two workers, as real processes on 127.0.0.1, every connection mutual TLS with the temporary
// credentials it makes); with a center's address it uses that cluster, with the credentials named by
// DISTRIBUTED_CREDENTIALS.
Distributed.Protocol.Hosting.StartTrace.Mark("quickstart main");
LocalCluster? local = null;
var address = args.FirstOrDefault();
if (address is null)
{
    local = await LocalCluster.StartAsync(workers: 2, connectPool: true); // the Pool below connects while the workers start
    address = local.Address;
    Console.WriteLine($"Started a local cluster at {address} with 2 workers");
}
try
{
    await using var pool = local is not null ? await local.ConnectAsync() : await Pool.ConnectAsync(address);
    Distributed.Protocol.Hosting.StartTrace.Mark("quickstart: connected");

#pragma warning disable IDE1006 // A and B: the names of the quickstart in DESIGN.md and dask's
    var A = pool.Map(x => x * x, Enumerable.Range(0, 10));   // RemoteData<int> proxies, values stay on the workers
    var B = pool.Map(x => -x, A);                            // runs where A lives; no data comes to the client
#pragma warning restore IDE1006
    var total = pool.Apply(xs => xs.Sum(), B);               // a list of RemoteData arrives as the values
    Distributed.Protocol.Hosting.StartTrace.Mark("quickstart: submitted");
    Console.WriteLine(total.Get());                          // -285
    Distributed.Protocol.Hosting.StartTrace.Mark("quickstart: result");
    Console.WriteLine($"[{string.Join(", ", pool.Gather(A))}]"); // [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]
}
finally
{
    if (local is not null) await local.DisposeAsync();
    Distributed.Protocol.Hosting.StartTrace.Mark("quickstart: cluster stopped");
}
