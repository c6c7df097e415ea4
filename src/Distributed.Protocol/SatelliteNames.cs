using System.Text.RegularExpressions;

namespace Distributed.Protocol;

/// <summary>
/// How a satellite resource assembly is named when it is shipped: <c>culture/Name.resources</c> (as the
/// build lays it out, <c>fr/MyLib.resources.dll</c>), so that one of each culture can sit in a worker's
/// cache under its hash and an executor knows which culture it is.
/// </summary>
/// <example>
/// <code>
/// var name = SatelliteNames.Of("fr", "MyLib.resources"); // "fr/MyLib.resources"
/// SatelliteNames.TrySplit(name, out var culture, out var simple); // "fr", "MyLib.resources"
/// </code>
/// </example>
public static partial class SatelliteNames
{
    /// <summary>The shipped name of <paramref name="simpleName"/>'s satellite for <paramref name="culture"/>.</summary>
    public static string Of(string culture, string simpleName) => culture + "/" + simpleName;

    /// <summary>
    /// Whether <paramref name="name"/> is a satellite's shipped name: a culture name (letters, digits and
    /// dashes, as <c>fr</c>, <c>pt-BR</c>, <c>zh-Hans</c>), one '/', and a name ending in <c>.resources</c>.
    /// </summary>
    public static bool TrySplit(string name, out string culture, out string simpleName)
    {
        var slash = name.IndexOf('/', StringComparison.Ordinal);
        culture = slash > 0 ? name[..slash] : "";
        simpleName = slash > 0 ? name[(slash + 1)..] : name;
        return slash > 0 && CultureName().IsMatch(culture) && simpleName.EndsWith(".resources", StringComparison.OrdinalIgnoreCase);
    }

    [GeneratedRegex("^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$", RegexOptions.CultureInvariant)]
    private static partial Regex CultureName();
}
