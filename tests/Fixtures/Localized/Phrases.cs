using System.Resources;

namespace Localized;

/// <summary>Localized phrases, read in the thread's UI culture.</summary>
public static class Phrases
{
    private static readonly ResourceManager Resources = new("Localized.Phrases", typeof(Phrases).Assembly);

    /// <summary>The greeting in <see cref="System.Globalization.CultureInfo.CurrentUICulture"/>.</summary>
    public static string Greeting => Resources.GetString("Greeting") ?? "(no greeting)";
}
