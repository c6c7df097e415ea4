namespace LoadedByName;

/// <summary>What a lambda finds by name only: it says which assembly answered.</summary>
public static class Greeter
{
    /// <summary>A greeting that names this assembly.</summary>
    public static string Greet(string who) => $"hello {who} from {typeof(Greeter).Assembly.GetName().Name}";
}
