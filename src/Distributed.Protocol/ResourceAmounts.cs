using System.Globalization;

namespace Distributed.Protocol;

/// <summary>
/// Named amounts of what a worker offers and a task takes while it runs (dask's worker resources):
/// <c>GPU=1,MEM=8e9</c>. A name is a letter or <c>_</c> then up to 63 letters, digits, <c>_ - .</c>;
/// an amount is a finite number, zero or more.
/// </summary>
/// <example>
/// <code>
/// var offered = ResourceAmounts.Parse("GPU=2,MEM=8e9"); // {GPU: 2, MEM: 8000000000}
/// ResourceAmounts.Format(offered);                     // "GPU=2,MEM=8000000000"
/// </code>
/// </example>
public static class ResourceAmounts
{
    /// <summary>The longest resource name accepted.</summary>
    public const int MaxNameLength = 64;

    /// <summary>Parses <c>NAME=AMOUNT[,NAME=AMOUNT...]</c>; a <see cref="FormatException"/> says what is wrong with which entry.</summary>
    /// <example>
    /// <code>
    /// ResourceAmounts.Parse("GPU=1");      // {GPU: 1}
    /// ResourceAmounts.Parse("GPU=-1");     // FormatException: the amount of GPU must be a finite number, zero or more
    /// </code>
    /// </example>
    public static IReadOnlyDictionary<string, double> Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var amounts = new Dictionary<string, double>(StringComparer.Ordinal);
        if (string.IsNullOrWhiteSpace(text)) throw new FormatException("expects NAME=AMOUNT[,NAME=AMOUNT...], e.g. GPU=1,MEM=8e9; it is empty.");
        foreach (var entry in text.Split(','))
        {
            var trimmed = entry.Trim();
            if (trimmed.Length == 0) throw new FormatException($"'{text}' has an empty entry (a stray comma?); expected NAME=AMOUNT[,NAME=AMOUNT...].");
            var equals = trimmed.IndexOf('=');
            if (equals < 0) throw new FormatException($"'{trimmed}' is not NAME=AMOUNT (e.g. GPU=1).");
            var name = trimmed[..equals].Trim();
            var amountText = trimmed[(equals + 1)..].Trim();
            if (NameProblem(name) is { } nameProblem) throw new FormatException(nameProblem);
            if (!double.TryParse(amountText, NumberStyles.Float, CultureInfo.InvariantCulture, out var amount))
                throw new FormatException($"the amount of {name} ('{amountText}') is not a number (e.g. 1, 0.5, 8e9).");
            if (AmountProblem(name, amount) is { } amountProblem) throw new FormatException(amountProblem);
            if (!amounts.TryAdd(name, amount)) throw new FormatException($"{name} is given twice.");
        }
        return amounts;
    }

    /// <summary>What is wrong with a resource name, or null when it is a valid one.</summary>
    /// <example><code>ResourceAmounts.NameProblem("GPU"); // null</code></example>
    public static string? NameProblem(string name)
    {
        if (name.Length == 0) return "a resource has no name (expected NAME=AMOUNT, e.g. GPU=1).";
        if (name.Length > MaxNameLength) return $"the resource name '{name[..16]}...' is longer than {MaxNameLength} characters.";
        if (!(char.IsAsciiLetter(name[0]) || name[0] == '_')) return $"the resource name '{name}' must start with a letter or _.";
        foreach (var c in name)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.'))
                return $"the resource name '{name}' may hold only letters, digits, _, - and . (not '{c}').";
        return null;
    }

    /// <summary>What is wrong with an amount of <paramref name="name"/>, or null when it is finite and not negative.</summary>
    /// <example><code>ResourceAmounts.AmountProblem("GPU", double.NaN); // "the amount of GPU must be ..."</code></example>
    public static string? AmountProblem(string name, double amount) =>
        double.IsFinite(amount) && amount >= 0 ? null : $"the amount of {name} must be a finite number, zero or more (not {amount.ToString(CultureInfo.InvariantCulture)}).";

    /// <summary>What is wrong with a whole set of amounts (the first problem), or null.</summary>
    /// <example><code>ResourceAmounts.Problem(new Dictionary&lt;string, double&gt; { ["GPU"] = 1 }); // null</code></example>
    public static string? Problem(IReadOnlyDictionary<string, double> amounts)
    {
        foreach (var (name, amount) in amounts)
            if ((NameProblem(name) ?? AmountProblem(name, amount)) is { } problem) return problem;
        return null;
    }

    /// <summary>The amounts as <see cref="Parse"/> reads them, names in order.</summary>
    /// <example><code>ResourceAmounts.Format(new Dictionary&lt;string, double&gt; { ["GPU"] = 1 }); // "GPU=1"</code></example>
    public static string Format(IReadOnlyDictionary<string, double> amounts) =>
        string.Join(",", amounts.OrderBy(a => a.Key, StringComparer.Ordinal).Select(a => $"{a.Key}={a.Value.ToString("R", CultureInfo.InvariantCulture)}"));
}
