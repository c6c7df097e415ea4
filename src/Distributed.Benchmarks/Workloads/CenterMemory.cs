namespace Distributed.Benchmarks.Workloads;

/// <summary>The center's resident memory over one run: before, peak during, after.</summary>
internal sealed record CenterMemory(long Before, long Peak, long After, string PeakSources, int Samples)
{
    public long Growth => Peak - Before;

    public static Recording Start(int processId) => new(processId);

    /// <summary>Samples the center from <see cref="Start"/> to <see cref="Stop"/>.</summary>
    public sealed class Recording : IDisposable
    {
        private readonly int _processId;
        private readonly long _before;
        private readonly bool _peakReset;
        private readonly ProcessMemory.Sampler _sampler;

        public Recording(int processId)
        {
            _processId = processId;
            _before = ProcessMemory.Read(processId).Resident;
            _peakReset = ProcessMemory.TryResetPeak(processId);
            _sampler = new ProcessMemory.Sampler(processId);
        }

        public CenterMemory Stop()
        {
            var (highest, highWaterMark, samples) = _sampler.Stop();
            var after = ProcessMemory.Read(_processId).Resident;
            // VmHWM is the true peak only when it was reset before the run; else it may be older
            var peak = _peakReset ? Math.Max(highest, highWaterMark) : highest;
            var sources = _peakReset ? "max of VmHWM (reset before the run) and VmRSS sampled every 5 ms" : "VmRSS sampled every 5 ms (VmHWM could not be reset)";
            return new CenterMemory(_before, peak, after, sources, samples);
        }

        public void Dispose() => _sampler.Dispose();
    }
}
