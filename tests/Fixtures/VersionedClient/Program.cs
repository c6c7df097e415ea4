using Distributed;

// One build of a client program. Built twice (Variant=1 and Variant=2) with the same assembly name,
// it must get its own code on workers that also run the other build.
//
//   VersionedClient CENTER [--rounds N] [--start-when FILE] [--native]
//
// Prints "ready" once connected, waits for FILE when given (so that two clients start together),
// then for each round: "round R results: ..." (the gathered Map of Transform) and
// "round R labels: ..." (the gathered Map that builds this program's own record type), or with
// --native (a build with the NativeVersion package): "round R native: ..." (the gathered Map that
// calls the package's native library on the workers) after "native here: N" (the same call here).
// It presents the credentials named by DISTRIBUTED_CREDENTIALS (the tests pass the cluster's).

if (args.Length < 1)
{
    Console.Error.WriteLine("usage: VersionedClient CENTER [--rounds N] [--start-when FILE]");
    return 2;
}
var rounds = 1;
string? startWhen = null;
var native = false;
for (var i = 1; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--rounds" when i + 1 < args.Length: rounds = int.Parse(args[++i]); break;
        case "--start-when" when i + 1 < args.Length: startWhen = args[++i]; break;
        case "--native": native = true; break;
        default:
            Console.Error.WriteLine($"unknown argument {args[i]}");
            return 2;
    }
}

await using var pool = await Pool.ConnectAsync(args[0], TimeSpan.FromSeconds(30));
Console.WriteLine($"variant {Build.Label} ready");
if (startWhen is not null)
{
    while (!File.Exists(startWhen)) await Task.Delay(20);
}

#if NATIVE_VERSION
if (native) Console.WriteLine($"native here: {NativeVersion.NativeVersionLibrary.Version()}");
#else
if (native)
{
    Console.Error.WriteLine("--native needs a build with -p:NativeVersionFeed=FOLDER");
    return 2;
}
#endif
for (var round = 0; round < rounds; round++)
{
#if NATIVE_VERSION
    if (native)
    {
        var versions = pool.Map(static _ => NativeVersion.NativeVersionLibrary.Version(), Enumerable.Range(0, 8));
        Console.WriteLine($"round {round} native: {string.Join(",", pool.Gather(versions))}");
        continue;
    }
#endif
    var data = pool.Map(x => Build.Transform(x), Enumerable.Range(0, 10));
    var labelled = pool.Map(x => new Labelled(x, Build.Label), data);
    Console.WriteLine($"round {round} results: {string.Join(",", pool.Gather(data))}");
    Console.WriteLine($"round {round} labels: {string.Join(",", pool.Gather(labelled).Select(l => $"{l.Value}@{l.Label}"))}");
}
Console.WriteLine("done");
return 0;

/// <summary>The code that differs between the two builds.</summary>
internal static class Build
{
#if VARIANT2
    public const string Label = "v2";
    public static int Transform(int x) => x * 100;
#else
    public const string Label = "v1";
    public static int Transform(int x) => x * 10;
#endif
}

/// <summary>A type of this program, made on the workers and read back here.</summary>
internal sealed record Labelled(int Value, string Label);
