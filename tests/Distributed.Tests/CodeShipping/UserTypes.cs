namespace Distributed.Tests.CodeShipping;

// Types of the client program (this test assembly): the workers know them only once it is shipped.

public enum Category { Tools, Food, Books }

public enum Parity { Even, Odd }

public sealed record Money(decimal Amount, string Currency);

public sealed record Order(int Id, Category Category, int Quantity, Money UnitPrice, IReadOnlyList<string> Tags);

/// <summary>A plain class (not a record) made on the workers and read back by the client.</summary>
public sealed class OrderSummary
{
    public int OrderId { get; set; }
    public decimal Total { get; set; }
    public Category Category { get; set; }
    public bool IsLarge { get; set; }
    public List<string> Notes { get; } = [];
}

/// <summary>A class with private state whose instance a closure captures.</summary>
public sealed class Scaler(int factor)
{
    private readonly int _factor = factor;
    private readonly List<int> _history = [];

    public int Bias { get; set; }

    public int Apply(int x) => x * _factor + Bias + _history.Sum();

    public void Remember(int value) => _history.Add(value);
}

/// <summary>An instance whose methods are used as method groups.</summary>
public sealed class Polynomial(params int[] coefficients)
{
    private readonly int[] _coefficients = coefficients;

    public long Evaluate(int x)
    {
        long result = 0;
        for (var i = _coefficients.Length - 1; i >= 0; i--) result = result * x + _coefficients[i];
        return result;
    }
}

public static class UserMath
{
    public static int Cube(int x) => x * x * x;

    public static Parity ParityOf(int x) => x % 2 == 0 ? Parity.Even : Parity.Odd;
}

/// <summary>An exception type of the client program.</summary>
public sealed class OutOfStockException(string item, int wanted) : Exception($"only 3 {item} left, {wanted} wanted")
{
    public string Item { get; } = item;
    public int Wanted { get; } = wanted;
}

/// <summary>User code that fails, under names the remote stack traces must show.</summary>
public static class Warehouse
{
    public static int ReserveShelf(int shelf) =>
        shelf == 4 ? throw new InvalidOperationException($"shelf {shelf} is locked") : shelf * 2;

    public static int TakeFromStock(string item, int wanted) =>
        wanted > 3 ? throw new OutOfStockException(item, wanted) : 3 - wanted;

    public static int ParseQuantity(string text) => int.Parse(text, System.Globalization.CultureInfo.InvariantCulture);

    public static int Divide(int dividend, int divisor) => dividend / divisor;

    /// <summary>Counts its runs in <paramref name="runsFile"/> (one line each), then throws the user's <see cref="InputLostException"/>.</summary>
    public static int ThrowNamedLikeAnInputLoss(string runsFile)
    {
        File.AppendAllText(runsFile, "ran" + Environment.NewLine);
        throw new InputLostException("thrown by the user's code");
    }
}

/// <summary>A user object that holds a process-bound resource deep inside.</summary>
public sealed class AuditLog(FileStream file)
{
    private readonly Inner _inner = new(file);

    public string Name => _inner.File.Name;

    private sealed class Inner(FileStream file)
    {
        public FileStream File { get; } = file;
    }
}

/// <summary>A user record that may carry something that cannot travel.</summary>
public sealed record Parcel(string Label, object? Content);
