using System.Globalization;

namespace Distributed.Protocol.Hosting;

/// <summary>Sizes in bytes as people write them on a command line: <c>2GB</c>, <c>512MB</c>, <c>64MiB</c>, <c>1.5GB</c>, <c>1000000</c>.</summary>
public static class ByteSize
{
    // As dask writes them: KB, MB, GB, TB are powers of 1000, KiB, MiB, GiB, TiB powers of 1024.
    private static readonly Dictionary<string, long> Units = new(StringComparer.OrdinalIgnoreCase)
    {
        [""] = 1, ["B"] = 1,
        ["K"] = 1_000, ["KB"] = 1_000, ["KiB"] = 1L << 10,
        ["M"] = 1_000_000, ["MB"] = 1_000_000, ["MiB"] = 1L << 20,
        ["G"] = 1_000_000_000, ["GB"] = 1_000_000_000, ["GiB"] = 1L << 30,
        ["T"] = 1_000_000_000_000, ["TB"] = 1_000_000_000_000, ["TiB"] = 1L << 40,
    };

    /// <summary>Parses a positive size; a malformed, zero, negative or too large one throws a <see cref="FormatException"/> that quotes it.</summary>
    public static long Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var trimmed = text.Trim();
        var split = 0;
        while (split < trimmed.Length && (char.IsAsciiDigit(trimmed[split]) || trimmed[split] is '.' or '-' or '+')) split++;
        var number = trimmed[..split];
        var unit = trimmed[split..].Trim();
        if (number.Length == 0 || !Units.TryGetValue(unit, out var multiplier)
            || !decimal.TryParse(number, NumberStyles.AllowDecimalPoint | NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var amount))
            throw new FormatException($"'{text}' is not a size; write a number of bytes, or one with a unit such as 512MB, 2GB, 64MiB or 1.5GB.");
        if (amount <= 0) throw new FormatException($"'{text}' is not a size of more than 0 bytes.");
        decimal bytes;
        try { bytes = decimal.Floor(amount * multiplier); }
        catch (OverflowException) { bytes = decimal.MaxValue; }
        if (bytes > long.MaxValue) throw new FormatException($"'{text}' is too large a size.");
        if (bytes < 1) throw new FormatException($"'{text}' is less than 1 byte.");
        return (long)bytes;
    }

    /// <summary>A size for people to read, in powers of 1000: "14.4 GB", "32 MB", "512 bytes".</summary>
    public static string Format(long bytes)
    {
        string[] units = ["bytes", "kB", "MB", "GB", "TB", "PB"];
        double value = bytes;
        var unit = 0;
        while (Math.Abs(value) >= 1000 && unit < units.Length - 1)
        {
            value /= 1000;
            unit++;
        }
        return unit == 0 ? $"{bytes} bytes" : string.Create(CultureInfo.InvariantCulture, $"{value:0.#} {units[unit]}");
    }
}
