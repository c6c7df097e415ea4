// Usage: Distributed.TestClient CENTER MARKER-DIRECTORY
//        Distributed.TestClient progress CENTER TASKS
//
// The first form stores results on the cluster and prints their keys ("HELD k1,k2,..."), then starts a
// long Map whose tasks each leave a file in MARKER-DIRECTORY when they start, prints "RUNNING", and
// waits to be killed. The lost-client tests kill it there and check what the cluster did with its work.
// The second runs a Map of TASKS tasks (each sleeping 100 ms) under a console progress bar, then the
// same count of futures under another, and prints "RESULT sum" and "FUTURES n": the progress-bar
// tests run it in a terminal (tmux) and redirected.
// It presents the credentials named by DISTRIBUTED_CREDENTIALS (the tests pass the cluster's).
using Distributed;
using Distributed.Terminal;

if (args is ["progress", var center, var count])
{
    await using var progressPool = await Pool.ConnectAsync(center);
    var items = Enumerable.Range(0, int.Parse(count, System.Globalization.CultureInfo.InvariantCulture));
    var results = await ConsoleProgress.ShowAsync(progress => progressPool.MapAsync(x =>
    {
        Thread.Sleep(100);
        return x;
    }, items, progress: progress), "sleepy map");
    Console.WriteLine($"RESULT {(await progressPool.GatherAsync(results)).Sum()}");
    var futures = await progressPool.SubmitMap(x =>
    {
        Thread.Sleep(50);
        return x * 2;
    }, items).WithProgress("futures");
    Console.WriteLine($"FUTURES {futures.Count(f => f.Status == FutureStatus.Finished)}");
    return 0;
}
if (args.Length != 2)
{
    Console.Error.WriteLine("usage: Distributed.TestClient CENTER MARKER-DIRECTORY | progress CENTER TASKS");
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
