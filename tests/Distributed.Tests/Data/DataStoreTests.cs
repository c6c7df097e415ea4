using Distributed.Data;

namespace Distributed.Tests.Data;

/// <summary>The data store's memory limit: least recently used values spill to files and read back unchanged.</summary>
public sealed class DataStoreTests : IDisposable
{
    private readonly string _spillDirectory = Path.Combine(Path.GetTempPath(), "distributed-tests", $"spill-{Guid.NewGuid():N}");
    private readonly List<string> _errors = [];

    public void Dispose()
    {
        try { Directory.Delete(_spillDirectory, recursive: true); }
        catch (DirectoryNotFoundException) { }
    }

    private DataStore Store(long limit) => new(limit, _spillDirectory, e => { lock (_errors) _errors.Add(e); });

    /// <summary>A value whose bytes say which key and version it is, so that any mix-up shows.</summary>
    private static StoredValue ValueOf(string key, int size, int version = 0)
    {
        var bytes = new byte[size];
        new Random(HashCode.Combine(key, version)).NextBytes(bytes);
        return new StoredValue(bytes, $"Type.Of.{key}");
    }

    private int SpillFiles() => Directory.Exists(_spillDirectory) ? Directory.GetFiles(_spillDirectory).Length : 0;

    [Fact]
    public void Past_the_limit_the_least_recently_put_or_read_value_spills_first()
    {
        var store = Store(limit: 300);
        store.Put("a", ValueOf("a", 100));
        store.Put("b", ValueOf("b", 100));
        store.Put("c", ValueOf("c", 100));
        Assert.Equal(0, store.SpilledCount);

        store.Get("a");                      // a is now more recently used than b
        store.Put("d", ValueOf("d", 100));

        Assert.True(store.IsSpilled("b"), "b was the least recently used and should have spilled");
        Assert.False(store.IsSpilled("a") || store.IsSpilled("c") || store.IsSpilled("d"), "only b should have spilled");
        Assert.Equal(1, store.SpilledCount);
        Assert.Equal(100, store.SpilledBytes);
        Assert.Equal(300, store.InMemoryBytes);
        Assert.Equal(4, store.Count);
        Assert.Equal(400, store.Bytes);
        Assert.Equal(1, SpillFiles());

        store.Put("e", ValueOf("e", 150));  // c (100) then a (100) must go to make room for 150
        Assert.True(store.IsSpilled("c") && store.IsSpilled("a"), "c and then a were the least recently used");
        Assert.False(store.IsSpilled("d") || store.IsSpilled("e"));
        Assert.Equal(250, store.InMemoryBytes);
    }

    [Fact]
    public void A_spilled_value_reads_back_with_identical_bytes_and_type()
    {
        var store = Store(limit: 1_000);
        var original = ValueOf("x", 1_000);
        store.Put("x", original);
        store.Put("y", ValueOf("y", 1_000));

        Assert.True(store.IsSpilled("x"));
        var read = store.Get("x");

        Assert.NotNull(read);
        Assert.Equal(original.TypeName, read.TypeName);
        Assert.Equal(original.ToArray(), read.ToArray());
        Assert.Equal(1, store.ReadsFromDisk);
        Assert.Contains(store.Keys(), k => k.Key == "x" && k.Size == 1_000 && k.TypeName == original.TypeName);
        Assert.True(store.Contains("x"));
    }

    [Fact]
    public void Deleting_a_spilled_value_removes_its_file_and_its_bytes()
    {
        var store = Store(limit: 100);
        store.Put("a", ValueOf("a", 100));
        store.Put("b", ValueOf("b", 100));
        Assert.True(store.IsSpilled("a"));
        Assert.Equal(1, SpillFiles());

        store.Delete("a");

        Assert.Equal(0, SpillFiles());
        Assert.Null(store.Get("a"));
        Assert.False(store.Contains("a"));
        Assert.Equal((1, 100L, 0L, 0), (store.Count, store.Bytes, store.SpilledBytes, store.SpilledCount));
    }

    [Fact]
    public void Replacing_a_spilled_value_removes_the_old_file_and_gives_the_new_value()
    {
        var store = Store(limit: 100);
        store.Put("a", ValueOf("a", 100));
        store.Put("b", ValueOf("b", 100));
        Assert.True(store.IsSpilled("a"));

        var replacement = ValueOf("a", 50, version: 1);
        store.Put("a", replacement);

        Assert.Equal(replacement.ToArray(), store.Get("a")!.ToArray());
        Assert.Equal((2, 150L), (store.Count, store.Bytes));
        Assert.Equal(store.SpilledCount, SpillFiles());
    }

    [Fact]
    public void After_many_puts_the_memory_limit_holds_and_every_value_reads_back()
    {
        const long Limit = 50_000;
        var store = Store(Limit);
        var random = new Random(7);
        var sizes = new Dictionary<string, int>();
        for (var i = 0; i < 500; i++)
        {
            var key = $"k{i}";
            sizes[key] = random.Next(0, 5_000);
            store.Put(key, ValueOf(key, sizes[key]));
            Assert.True(store.InMemoryBytes <= Limit, $"after put {i}: {store.InMemoryBytes} bytes in memory, limit {Limit}");
            if (i % 3 == 0) store.Get($"k{random.Next(0, i + 1)}");
        }

        Assert.Equal(500, store.Count);
        Assert.Equal(sizes.Values.Sum(s => (long)s), store.Bytes);
        Assert.Equal(store.Bytes, store.InMemoryBytes + store.SpilledBytes);
        Assert.True(store.SpilledCount > 400, $"only {store.SpilledCount} of 500 values spilled");
        Assert.Equal(store.SpilledCount, SpillFiles());
        foreach (var (key, size) in sizes)
            Assert.Equal(ValueOf(key, size).ToArray(), store.Get(key)!.ToArray());
        Assert.Empty(_errors);
    }

    [Fact]
    public void A_value_larger_than_the_limit_goes_straight_to_disk_and_leaves_the_others_in_memory()
    {
        var store = Store(limit: 1_000);
        store.Put("small", ValueOf("small", 500));

        var large = ValueOf("large", 5_000);
        store.Put("large", large);

        Assert.True(store.IsSpilled("large"));
        Assert.False(store.IsSpilled("small"));
        Assert.Equal(500, store.InMemoryBytes);
        Assert.Equal(large.ToArray(), store.Get("large")!.ToArray());
    }

    [Fact]
    public void When_spill_files_cannot_be_written_values_stay_in_memory_and_the_error_is_logged_once()
    {
        // A file where the spill directory should be: every spill fails.
        Directory.CreateDirectory(Path.GetDirectoryName(_spillDirectory)!);
        File.WriteAllText(_spillDirectory, "in the way");
        try
        {
            var store = Store(limit: 100);
            for (var i = 0; i < 5; i++) store.Put($"k{i}", ValueOf($"k{i}", 100));

            Assert.Equal(0, store.SpilledCount);
            Assert.Equal(500, store.InMemoryBytes);
            for (var i = 0; i < 5; i++) Assert.Equal(ValueOf($"k{i}", 100).ToArray(), store.Get($"k{i}")!.ToArray());
            var error = Assert.Single(_errors);
            Assert.Contains("Could not spill", error);
            Assert.Contains(_spillDirectory, error);
        }
        finally
        {
            File.Delete(_spillDirectory);
        }
    }

    [Fact]
    public void A_store_without_a_limit_never_spills()
    {
        var store = new DataStore();
        for (var i = 0; i < 100; i++) store.Put($"k{i}", ValueOf($"k{i}", 10_000));
        Assert.Equal((0, 1_000_000L), (store.SpilledCount, store.InMemoryBytes));
    }

    [Fact]
    public async Task Readers_running_while_values_spill_are_replaced_and_deleted_always_get_the_right_bytes()
    {
        // One writer (as the worker actor) puts, replaces and deletes while readers (as the data
        // server's connection threads) read: a read gives the value of the key, or null only once
        // the key is deleted, never other bytes, never an exception.
        const int Keys = 400;
        const int Size = 2_000;
        var store = Store(limit: 20 * Size);
        var written = -1;         // keys 0..written have been put
        var deletedBelow = 0;     // keys below this have been deleted
        var done = false;
        var failures = new List<string>();
        var reads = 0L;

        var readers = Enumerable.Range(0, 4).Select(seed => Task.Factory.StartNew(() =>
        {
            var random = new Random(seed);
            while (!Volatile.Read(ref done))
            {
                var high = Volatile.Read(ref written);
                if (high < 0) continue;
                var low = Math.Min(high, Math.Max(0, Volatile.Read(ref deletedBelow) - 5));
                var k = random.Next(low, high + 1);
                var value = store.Get($"k{k}");
                Interlocked.Increment(ref reads);
                if (value is null)
                {
                    if (k >= Volatile.Read(ref deletedBelow)) lock (failures) failures.Add($"k{k} was not found though not deleted");
                    continue;
                }
                // Even keys are replaced once by version 1: either version is right.
                if (!value.ToArray().AsSpan().SequenceEqual(ValueOf($"k{k}", Size).ToArray()) && !value.ToArray().AsSpan().SequenceEqual(ValueOf($"k{k}", Size, 1).ToArray()))
                    lock (failures) failures.Add($"k{k} read back other bytes");
            }
        }, TaskCreationOptions.LongRunning)).ToList();

        for (var i = 0; i < Keys; i++)
        {
            store.Put($"k{i}", ValueOf($"k{i}", Size));
            Volatile.Write(ref written, i);
            if (i >= 10 && i % 2 == 0) store.Put($"k{i - 10}", ValueOf($"k{i - 10}", Size, 1));
            if (i >= 100)
            {
                Volatile.Write(ref deletedBelow, i - 99);
                store.Delete($"k{i - 100}");
            }
        }
        Volatile.Write(ref done, true);
        await Task.WhenAll(readers);

        Assert.Empty(failures);
        Assert.Empty(_errors);
        Assert.True(Interlocked.Read(ref reads) > 0);
        Assert.True(store.ReadsFromDisk > 0, "no read was served from disk: the test did not read spilled values");
        Assert.True(store.InMemoryBytes <= 20 * Size);
        Assert.Equal(store.SpilledCount, SpillFiles());
    }
}
