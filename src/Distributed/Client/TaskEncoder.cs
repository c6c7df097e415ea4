using System.Reflection;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Distributed.Protocol;
using Distributed.Data.Serialization;

namespace Distributed.Client;

/// <summary>
/// Turns the caller's functions and values into the bytes a task carries, and names the code the
/// workers need to read them; a value that cannot travel fails with <see cref="TaskSerializationException"/>
/// naming the task.
/// </summary>
internal sealed class TaskEncoder(ValueCodec codec, CodeShipping code)
{
    private readonly ConditionalWeakTable<Delegate, Tuple<Type, FunctionSpec>> _encodedFunctions = new();

    /// <summary>The code manifest of these types' assemblies (shipped to the workers on first use).</summary>
    public CodeManifest ManifestFor(IEnumerable<Type> types) => code.ManifestFor(types);

    /// <summary>The function as it travels, addressed by the hash of its bytes; <paramref name="key"/> names the task in errors.</summary>
    public FunctionSpec EncodeFunction(IUserFunction function, string key)
    {
        // Serializing a delegate is the costliest step of a small Apply; a non-capturing lambda is one
        // cached instance, so calls in a loop reuse its encoding. (A closure's captured variables may
        // change between calls, so only delegates without a capturing target are cached.)
        var userDelegate = function.Delegate;
        var cacheable = userDelegate.Target is null || userDelegate.Target.GetType().GetFields(
            BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic).Length == 0;
        if (cacheable && _encodedFunctions.TryGetValue(userDelegate, out var cached) && cached.Item1 == function.GetType()) return cached.Item2;
        try
        {
            var payload = codec.Encode(function);
            var spec = ContentAddress.Function(payload);
            if (cacheable) _encodedFunctions.AddOrUpdate(userDelegate, Tuple.Create(function.GetType(), spec));
            return spec;
        }
        catch (UnserializableValueException e)
        {
            throw new TaskSerializationException(key, e.OffendingType, e.Message, e);
        }
    }

    /// <summary>A value (or an argument template) as it travels; <paramref name="key"/> names the task in errors.</summary>
    public byte[] EncodeArgument(object? value, string key)
    {
        try
        {
            return codec.Encode(value);
        }
        catch (UnserializableValueException e)
        {
            throw new TaskSerializationException(key, e.OffendingType, e.Message, e);
        }
    }

    /// <summary>A readable, unique key prefix: the function's name and a random token, as dask's keys read.</summary>
    public static string KeyPrefix(Delegate function) => $"{KeyName(function)}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}";

    /// <summary>The function's name as keys spell it: lower case, dashes.</summary>
    public static string KeyName(Delegate function) => FunctionNames.Of(function).Replace(".lambda", "").Replace('.', '-').ToLowerInvariant();

    /// <summary>
    /// The key of a pure call: the same function (code and captured values) with the same arguments gets
    /// the same key, so the cluster computes it once. <paramref name="salt"/> keeps one pool's keys its own.
    /// </summary>
    public static string PureKey(string name, byte[] salt, TaskSpec task)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(salt);
        hash.AppendData(System.Text.Encoding.UTF8.GetBytes(task.FunctionId));
        hash.AppendData([(byte)task.Kind]);
        hash.AppendData(BitConverter.GetBytes(task.Args.Length));
        hash.AppendData(task.Args);
        foreach (var dependency in task.Dependencies)
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes(dependency);
            hash.AppendData(BitConverter.GetBytes(bytes.Length));
            hash.AppendData(bytes);
        }
        return $"{name}-pure-{Convert.ToHexStringLower(hash.GetHashAndReset().AsSpan(0, 12))}";
    }

    /// <summary>A per-task timeout as it travels: whole milliseconds, 0 for none (null or <see cref="Timeout.InfiniteTimeSpan"/>).</summary>
    public static long TimeoutMilliseconds(TimeSpan? timeout, string parameterName)
    {
        if (timeout is not { } value || value == Timeout.InfiniteTimeSpan) return 0;
        if (value <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(parameterName, value, $"A task timeout must be positive (or null for none), not {value}.");
        return Math.Max(1, (long)Math.Ceiling(value.TotalMilliseconds));
    }
}
