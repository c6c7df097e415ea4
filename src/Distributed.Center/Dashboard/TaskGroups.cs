namespace Distributed.Center.Dashboard;

/// <summary>
/// Names computations by their keys, as dask groups tasks by key prefix: the Pool names a Map's tasks
/// <c>function-random-index</c>, so the key without its index is the Map, and without the random part
/// too, its function.
/// </summary>
public static class TaskGroups
{
    private static readonly System.Buffers.SearchValues<char> LowerHex = System.Buffers.SearchValues.Create("0123456789abcdef");

    /// <summary>The computation of <paramref name="key"/>: the key without a last part of digits (<c>square-3fa2c1d4e5b6-17</c> → <c>square-3fa2c1d4e5b6</c>).</summary>
    public static string GroupOf(string key)
    {
        var dash = key.LastIndexOf('-');
        if (dash <= 0 || dash == key.Length - 1) return key;
        for (var i = dash + 1; i < key.Length; i++)
            if (!char.IsAsciiDigit(key[i])) return key;
        return key[..dash];
    }

    /// <summary>The function of a computation: its name without a last part of 8 or more hex digits, nor a <c>-pure</c> (<c>square-3fa2c1d4e5b6</c> → <c>square</c>).</summary>
    public static string FunctionOf(string group)
    {
        var name = group;
        var dash = name.LastIndexOf('-');
        if (dash > 0 && name.Length - dash - 1 >= 8 && !name.AsSpan(dash + 1).ContainsAnyExcept(LowerHex)) name = name[..dash];
        if (name.EndsWith("-pure", StringComparison.Ordinal)) name = name[..^5];
        return name;
    }
}
