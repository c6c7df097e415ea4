using Distributed.Dask;

namespace Distributed.NetworkProbe;

/// <summary>
/// A member client: connects, keeps some values stored on the cluster for its whole life, runs the
/// quickstart (Map, Apply, Gather) and a graph, and prints what it got. Then, unless told <c>--once</c>,
/// it reads commands on standard input: <c>round</c> runs the quickstart and the graph again and reads the
/// stored values back; <c>stats</c> prints what every worker counted and holds; <c>quit</c> ends it.
/// Every answer ends with a <c>DONE</c> line.
/// </summary>
internal static class ClientProbe
{
    public static async Task<int> RunAsync(string center, bool once)
    {
        await using var pool = await Pool.ConnectAsync(center, TimeSpan.FromSeconds(60));
        var stored = await pool.MapAsync(x => x * 1000 + 7, Enumerable.Range(0, 20));
        Console.WriteLine($"STORED {string.Join(",", stored.Select(s => s.Key))}");
        foreach (var worker in pool.Workers())
            Console.WriteLine($"WORKER {worker.Name} akka={worker.Address} data={worker.Data.Host}:{worker.Data.Port}");
        await RoundAsync(pool, center, stored);
        if (once) return 0;
        while (Console.ReadLine() is { } command)
        {
            try
            {
                switch (command.Trim())
                {
                    case "round": await RoundAsync(pool, center, stored); break;
                    case "stats": await StatsAsync(pool); break;
                    case "quit": return 0;
                    default: Console.WriteLine($"DONE unknown command {command}"); break;
                }
            }
            catch (Exception e)
            {
                // The test reads what went wrong (a worker gone, say) and decides; the stored values stay.
                Console.WriteLine($"ERROR {command}: {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}");
                Console.WriteLine("DONE error");
            }
        }
        return 0;
    }

    private static async Task RoundAsync(Pool pool, string center, List<RemoteData<int>> stored)
    {
        // The quickstart of the README, across the network.
        var squares = await pool.MapAsync(x => x * x, Enumerable.Range(0, 10));
        var negated = await pool.MapAsync(x => -x, squares);
        var total = await pool.ApplyAsync(xs => xs.Sum(), negated);
        Console.WriteLine($"RESULT quickstart-total {await total.GetAsync()}");
        Console.WriteLine($"RESULT quickstart-gather {string.Join(",", await pool.GatherAsync(squares))}");
        // A graph with a shared input and a reduction.
        Func<int, int> inc = x => x + 1;
        Func<int, int, int> add = (x, y) => x + y;
        var graph = new Graph { ["a"] = 1, ["b"] = (inc, "a"), ["c"] = (inc, "b"), ["d"] = (add, "b", "c") };
        var (host, port) = HostAndPort(center);
        var results = Scheduler.Get(host, port, graph, new List<string> { "c", "d" }) as System.Collections.IEnumerable
            ?? throw new InvalidOperationException("the graph's results are not a list");
        Console.WriteLine($"RESULT graph {string.Join(",", results.Cast<object?>())}");
        Console.WriteLine($"RESULT stored {string.Join(",", await pool.GatherAsync(stored))}");
        // Released now, not when a collection finalizes the proxies: the attack tests compare what the
        // workers hold before and after an attack, and a late release would change it in between.
        pool.Release(squares.Concat(negated).Append(total));
        Console.WriteLine("DONE round");
    }

    private static async Task StatsAsync(Pool pool)
    {
        var holdings = pool.HasWhat();
        foreach (var (name, stats) in (await pool.TransferStatsAsync()).OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            Console.WriteLine($"STATS {name} tasksRun={stats.TasksRun} sentToClients={stats.SentToClients} sentToWorkers={stats.SentToWorkers} " +
                $"keys={stats.KeyCount} bytes={stats.StoredBytes} executors={stats.ExecutorsStarted} assemblies={stats.AssembliesReceived.Count}");
            var keys = holdings.GetValueOrDefault(name) ?? [];
            Console.WriteLine($"HOLDS {name} {string.Join(",", keys.Order(StringComparer.Ordinal))}");
        }
        Console.WriteLine("DONE stats");
    }

    private static (string Host, int Port) HostAndPort(string address)
    {
        var colon = address.LastIndexOf(':');
        return (address[..colon], int.Parse(address[(colon + 1)..]));
    }
}
