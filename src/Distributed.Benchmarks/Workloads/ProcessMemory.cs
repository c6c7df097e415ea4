using System.Globalization;

namespace Distributed.Benchmarks.Workloads;

/// <summary>Resident memory of another process, from Linux's <c>/proc/&lt;pid&gt;/status</c>, in bytes.</summary>
internal readonly record struct MemoryReading(long Resident, long PeakResident);

/// <summary>
/// Reads and samples the resident memory of a process by id: VmRSS (now) and VmHWM (the peak since
/// start, or since <see cref="TryResetPeak"/>). Linux only; <see cref="IsAvailable"/> says whether it works here.
/// </summary>
internal static class ProcessMemory
{
    /// <summary>Whether the process's status file can be read (Linux, process alive).</summary>
    public static bool IsAvailable(int processId) => File.Exists(StatusPath(processId));

    /// <summary>The process's VmRSS and VmHWM now.</summary>
    public static MemoryReading Read(int processId)
    {
        long resident = -1, peak = -1;
        foreach (var line in File.ReadLines(StatusPath(processId)))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) resident = Kilobytes(line);
            else if (line.StartsWith("VmHWM:", StringComparison.Ordinal)) peak = Kilobytes(line);
        }
        if (resident < 0 || peak < 0) throw new InvalidOperationException($"{StatusPath(processId)} has no VmRSS or VmHWM line.");
        return new MemoryReading(resident * 1024, peak * 1024);
    }

    /// <summary>
    /// Resets the process's VmHWM to its current VmRSS (writing 5 to <c>/proc/&lt;pid&gt;/clear_refs</c>),
    /// so that the next VmHWM is the peak of what follows; false where the kernel or rights refuse.
    /// </summary>
    public static bool TryResetPeak(int processId)
    {
        try
        {
            File.WriteAllText($"/proc/{processId}/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>
    /// Samples the process's VmRSS on a background thread until disposed, keeping the highest; a
    /// peak between samples is caught by VmHWM, which <see cref="Stop"/> reads last.
    /// </summary>
    public sealed class Sampler : IDisposable
    {
        private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(5);
        private readonly int _processId;
        private readonly Thread _thread;
        private readonly ManualResetEventSlim _stopped = new();
        private long _highestResident;
        private int _samples;
        private Exception? _failure;

        /// <summary>Starts sampling <paramref name="processId"/>.</summary>
        public Sampler(int processId)
        {
            _processId = processId;
            _thread = new Thread(Run) { IsBackground = true, Name = "center memory sampler" };
            _thread.Start();
        }

        /// <summary>Stops sampling; the highest sampled VmRSS, the VmHWM read now, and the number of samples.</summary>
        public (long HighestResident, long PeakResident, int Samples) Stop()
        {
            _stopped.Set();
            _thread.Join();
            if (_failure is not null) throw new InvalidOperationException($"Sampling the memory of process {_processId} failed: {_failure.Message}", _failure);
            var last = Read(_processId);
            return (Math.Max(_highestResident, last.Resident), last.PeakResident, _samples);
        }

        private void Run()
        {
            // only this thread writes the fields; Stop reads them after Join
            try
            {
                do
                {
                    _highestResident = Math.Max(_highestResident, Read(_processId).Resident);
                    _samples++;
                }
                while (!_stopped.Wait(Interval));
            }
            catch (Exception e)
            {
                _failure = e;
            }
        }

        /// <inheritdoc />
        public void Dispose()
        {
            if (!_stopped.IsSet) Stop();
            _stopped.Dispose();
        }
    }

    private static string StatusPath(int processId) => $"/proc/{processId}/status";

    private static long Kilobytes(string line)
    {
        // "VmRSS:\t  123456 kB"
        var number = line[(line.IndexOf(':') + 1)..].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
        return long.Parse(number, CultureInfo.InvariantCulture);
    }
}
