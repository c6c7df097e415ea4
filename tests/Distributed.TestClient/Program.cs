// Usage: Distributed.TestClient CENTER MARKER-DIRECTORY
//
// Stores results on the cluster and prints their keys ("HELD k1,k2,..."), then starts a long Map
// whose tasks each leave a file in MARKER-DIRECTORY when they start, prints "RUNNING", and waits to
// be killed. The lost-client tests kill it there and check what the cluster did with its work.
// It presents the credentials named by DISTRIBUTED_CREDENTIALS (the tests pass the cluster's).
using Distributed;

if (args.Length != 2)
{
    Console.Error.WriteLine("usage: Distributed.TestClient CENTER MARKER-DIRECTORY");
    return 2;
}
var markers = args[1];
var pool = await Pool.ConnectAsync(args[0]);
var held = pool.Map(x => x * 3, Enumerable.Range(0, 50));
Console.WriteLine($"HELD {string.Join(",", held.Select(h => h.Key))}");
_ = pool.MapAsync(x =>
{
    File.WriteAllText(Path.Combine(markers, $"task-{x}"), "");
    Thread.Sleep(100);
    return x;
}, Enumerable.Range(0, 2_000));
Console.WriteLine("RUNNING");
await Task.Delay(Timeout.Infinite);
return 0;
