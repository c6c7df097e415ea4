using System.Net.Sockets;

namespace Distributed.Tests.CodeShipping;

/// <summary>
/// Values bound to one process (streams, threads, sockets, cancellation sources) cannot travel: the
/// call that needs them fails with the offending type and the task's key, and the pool goes on.
/// </summary>
[Collection(PlainWorkersCollection.Name)]
[ProcessTier]
public sealed class UnserializableValueTests(PlainWorkersFixture fixture) : IDisposable
{
    private readonly string _file = Path.Combine(Path.GetTempPath(), "distributed-tests", $"unserializable-{Guid.NewGuid():N}.txt");
    private readonly List<IDisposable> _resources = [];

    private Pool Pool => fixture.Pool;

    public static TheoryData<string> ProcessBoundKinds => ["FileStream", "Thread", "CancellationTokenSource", "Socket"];

    private object Open(string kind)
    {
        object resource = kind switch
        {
            "FileStream" => OpenFile(),
            "Thread" => new Thread(() => { }),
            "CancellationTokenSource" => new CancellationTokenSource(),
            "Socket" => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        if (resource is IDisposable disposable) _resources.Add(disposable);
        return resource;
    }

    private FileStream OpenFile()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(_file)!);
        File.WriteAllText(_file, "twelve bytes");
        var stream = File.OpenRead(_file);
        _resources.Add(stream);
        return stream;
    }

    [Theory]
    [MemberData(nameof(ProcessBoundKinds))]
    public void Map_with_a_closure_capturing_a_process_bound_object_fails_naming_its_type_and_the_key(string kind)
    {
        var resource = Open(kind);

        var function = AddingHashOf(resource);

        var error = Assert.Throws<TaskSerializationException>(() => Pool.Map(function, Enumerable.Range(0, 5)));

        Assert.Equal(resource.GetType(), error.OffendingType);
        AssertNamesKeyAndType(error, error.Key, resource.GetType());
        AssertThePoolStillWorks();
    }

    [Theory]
    [MemberData(nameof(ProcessBoundKinds))]
    public void Apply_with_a_closure_capturing_a_process_bound_object_fails_naming_its_type_and_the_key(string kind)
    {
        var resource = Open(kind);

        var function = Describing(resource);

        var error = Assert.Throws<TaskSerializationException>(() => Pool.Apply(function));

        Assert.Equal(resource.GetType(), error.OffendingType);
        AssertNamesKeyAndType(error, error.Key, resource.GetType());
        AssertThePoolStillWorks();
    }

    [Fact]
    public void A_captured_user_object_holding_a_stream_deep_inside_fails_naming_the_stream_type()
    {
        var function = LoggingTo(new AuditLog(OpenFile()));

        var error = Assert.Throws<TaskSerializationException>(() => Pool.Map(function, Enumerable.Range(0, 3)));

        Assert.Equal(typeof(FileStream), error.OffendingType);
        AssertNamesKeyAndType(error, error.Key, typeof(FileStream));
        AssertThePoolStillWorks();
    }

    [Fact]
    public void An_argument_that_cannot_travel_fails_with_the_key_of_its_own_task()
    {
        var parcels = new[] { new Parcel("a", 1), new Parcel("b", "text"), new Parcel("c", Open("Thread")), new Parcel("d", null) };

        var error = Assert.Throws<TaskSerializationException>(() => Pool.Map(p => p.Label, parcels));

        Assert.Equal(typeof(Thread), error.OffendingType);
        Assert.EndsWith("-2", error.Key);
        AssertNamesKeyAndType(error, error.Key, typeof(Thread));
        AssertThePoolStillWorks();
    }

    [Fact]
    public void A_result_that_cannot_travel_fails_that_task_naming_its_type_and_its_key()
    {
        OpenFile();
        var function = OpeningTheSecondOf(_file);

        var error = Assert.Throws<RemoteTaskException>(() => Pool.Map(function, Enumerable.Range(0, 4)));

        Assert.EndsWith("-2", error.Key);
        AssertNamesKeyAndType(error, error.Key, typeof(FileStream));
        Assert.Contains(typeof(FileStream).FullName!, error.RemoteMessage);
        AssertThePoolStillWorks();
    }

    [Fact]
    public void Apply_whose_result_cannot_travel_fails_naming_its_type_and_its_key()
    {
        var error = Assert.Throws<RemoteTaskException>(() => Pool.Apply(() => new CancellationTokenSource()));

        Assert.False(string.IsNullOrEmpty(error.Key));
        AssertNamesKeyAndType(error, error.Key, typeof(CancellationTokenSource));
        AssertThePoolStillWorks();
    }

    // The functions are made here, not in the tests: a lambda written next to the tests' own lambdas
    // (which capture the test instance) would share their closure and carry the whole test along.

    private static Func<int, int> AddingHashOf(object resource) => x => x + resource.GetHashCode();

    private static Func<string?> Describing(object resource) => () => resource.ToString();

    private static Func<int, string> LoggingTo(AuditLog log) => x => $"{log.Name}:{x}";

    private static Func<int, object> OpeningTheSecondOf(string path) => i => i == 2 ? File.OpenRead(path) : i;

    private static void AssertNamesKeyAndType(Exception error, string key, Type type)
    {
        Assert.False(string.IsNullOrWhiteSpace(key), $"The error has no key: {error}");
        Assert.Contains(key, error.Message);
        Assert.Contains(type.FullName!, error.Message);
    }

    private void AssertThePoolStillWorks()
    {
        var results = Pool.Map(x => x * 2, Enumerable.Range(0, 10));
        Assert.Equal(Enumerable.Range(0, 10).Select(x => x * 2), Pool.Gather(results));
    }

    public void Dispose()
    {
        foreach (var resource in _resources) resource.Dispose();
        try { File.Delete(_file); } catch (IOException) { }
    }
}
