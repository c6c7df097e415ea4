using System.Diagnostics;
using Distributed.Tests.Programs;

namespace Distributed.Tests.Network;

/// <summary>
/// The NetworkProbe's <c>client</c> verb as a long-lived process (inside a namespace): it keeps its stored
/// values for its whole life, and answers <c>round</c> and <c>stats</c> on standard input with lines
/// that end with a <c>DONE</c> line. Killed by process id when disposed if <c>quit</c> did not end it.
/// </summary>
internal sealed class ProbeClient : IAsyncDisposable
{
    private const string Program = "Distributed.NetworkProbe";
    private readonly Process _process;
    private readonly List<string> _lines = [];
    private readonly SemaphoreSlim _newLine = new(0);

    private ProbeClient(Process process) => _process = process;

    /// <summary>Everything it printed so far.</summary>
    public IReadOnlyList<string> Output { get { lock (_lines) return [.. _lines]; } }

    public bool HasExited => _process.HasExited;

    public static ProbeClient Start(IReadOnlyList<string> commandPrefix, IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        Protocol.ChildProcessSwitch.ThrowIfForbidden("the network probe");
        var info = new ProcessStartInfo(commandPrefix[0])
        {
            UseShellExecute = false, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        foreach (var argument in commandPrefix.Skip(1)) info.ArgumentList.Add(argument);
        info.ArgumentList.Add("dotnet");
        info.ArgumentList.Add(Path.Combine(ProgramProcesses.Bin, Program + ".dll"));
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        foreach (var (name, value) in environment) info.Environment[name] = value;
        var process = new Process { StartInfo = info };
        var client = new ProbeClient(process);
        process.OutputDataReceived += (_, e) => client.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => client.OnLine(e.Data is null ? null : "stderr: " + e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return client;
    }

    private void OnLine(string? line)
    {
        if (line is null) return;
        lock (_lines) _lines.Add(line);
        _newLine.Release();
    }

    /// <summary>Waits for the next <c>DONE</c> line after the first <paramref name="from"/> lines; returns the lines before it.</summary>
    public async Task<IReadOnlyList<string>> AnswerAsync(int from, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var lines = Output;
            var done = lines.Skip(from).ToList().FindIndex(l => l.StartsWith("DONE", StringComparison.Ordinal));
            if (done >= 0) return lines.Skip(from).Take(done).ToList();
            if (_process.HasExited) Assert.Fail($"the probe client exited with code {_process.ExitCode}. Its output:{Environment.NewLine}{ProgramProcesses.Show(lines)}");
            var left = timeout - clock.Elapsed;
            if (left <= TimeSpan.Zero) Assert.Fail($"the probe client gave no answer within {timeout.TotalSeconds:0} s. Its output:{Environment.NewLine}{ProgramProcesses.Show(lines)}");
            await _newLine.WaitAsync(left < TimeSpan.FromSeconds(1) ? left : TimeSpan.FromSeconds(1));
        }
    }

    /// <summary>Sends <paramref name="command"/> and returns its answer.</summary>
    public async Task<IReadOnlyList<string>> AskAsync(string command, TimeSpan timeout)
    {
        var from = Output.Count;
        await _process.StandardInput.WriteLineAsync(command);
        await _process.StandardInput.FlushAsync();
        return await AnswerAsync(from, timeout);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                await _process.StandardInput.WriteLineAsync("quit");
                await _process.StandardInput.FlushAsync();
                using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await _process.WaitForExitAsync(grace.Token);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
            _process.Kill(entireProcessTree: true);
        }
        _process.Dispose();
    }
}
