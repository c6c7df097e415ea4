using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Distributed.Benchmarks;

/// <summary>The figure a result is compared with: the same work done the plain way.</summary>
public sealed record Baseline(string Name, double Value, string Unit);

/// <summary>One figure of the benchmark, printed as one JSON line.</summary>
/// <param name="Benchmark">What was measured, e.g. <c>map_throughput</c>.</param>
/// <param name="System">Which system did the work, e.g. <c>distributed</c>.</param>
/// <param name="Value">The figure.</param>
/// <param name="Unit">Its unit, e.g. <c>tasks/s</c>.</param>
/// <param name="Baseline">The figure it is compared with.</param>
/// <param name="Params">The sizes and settings it was measured with.</param>
public sealed record BenchmarkResult(
    string Benchmark,
    string System,
    double Value,
    string Unit,
    Baseline? Baseline,
    IReadOnlyDictionary<string, object?> Params);

/// <summary>A benchmark that did not run or did not finish, and why.</summary>
public sealed record BenchmarkNotRun(string Benchmark, string System, string Status, string Reason);

/// <summary>
/// Writes results to standard output, one JSON object per line, as they come. Everything else the
/// benchmark says (progress, the cluster's and Python's logs) goes to standard error, so standard
/// output stays a clean JSON-lines table.
/// </summary>
public sealed class ResultWriter
{
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        // readable reasons and names (quotes, backticks); the output is a table, never embedded in HTML
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private readonly TextWriter _output;
    private readonly Lock _lock;
    private readonly IReadOnlyDictionary<string, object?> _labels;

    /// <summary>Writes to <paramref name="output"/>.</summary>
    public ResultWriter(TextWriter output)
        : this(output, new Lock(), new Dictionary<string, object?>())
    {
    }

    private ResultWriter(TextWriter output, Lock writing, IReadOnlyDictionary<string, object?> labels)
    {
        _output = output;
        _lock = writing;
        _labels = labels;
    }

    /// <summary>A writer to the same output that adds <paramref name="name"/> = <paramref name="value"/> to the params of every result (e.g. <c>tls</c>).</summary>
    public ResultWriter Labelled(string name, object? value) =>
        new(_output, _lock, new Dictionary<string, object?>(_labels) { [name] = value });

    /// <summary>Writes one result.</summary>
    public void Write(BenchmarkResult result) => WriteLine(JsonSerializer.Serialize(Rounded(WithLabels(result)), Json));

    private BenchmarkResult WithLabels(BenchmarkResult result)
    {
        if (_labels.Count == 0) return result;
        var parameters = new Dictionary<string, object?>(result.Params);
        foreach (var (name, value) in _labels) parameters[name] = value;
        return result with { Params = parameters };
    }

    /// <summary>Writes that a benchmark was skipped or failed.</summary>
    public void Write(BenchmarkNotRun notRun) =>
        WriteLine(JsonSerializer.Serialize(_labels.Count == 0 ? notRun : notRun with { Reason = $"{notRun.Reason} ({Describe(_labels)})" }, Json));

    private static string Describe(IReadOnlyDictionary<string, object?> labels) => string.Join(", ", labels.Select(l => $"{l.Key} {l.Value}"));

    /// <summary>Writes a line that is already a JSON object (relayed from the dask side).</summary>
    public void WriteRaw(string jsonLine) => WriteLine(jsonLine);

    private void WriteLine(string line)
    {
        lock (_lock)
        {
            _output.WriteLine(line);
            _output.Flush();
        }
    }

    private static BenchmarkResult Rounded(BenchmarkResult result) => result with
    {
        Value = Statistics.Round(result.Value),
        Baseline = result.Baseline is { } b ? b with { Value = Statistics.Round(b.Value) } : null,
    };

    /// <summary>Progress for the reader, on standard error.</summary>
    public static void Log(string message) => Console.Error.WriteLine($"[bench {DateTime.Now:HH:mm:ss}] {message}");
}
