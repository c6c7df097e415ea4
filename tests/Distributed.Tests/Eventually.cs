using System.Diagnostics;

namespace Distributed.Tests;

/// <summary>Waits on a condition instead of sleeping a fixed time; fails with a message that says what was expected and what was seen.</summary>
public static class Eventually
{
    public static async Task TrueAsync(Func<bool> condition, Func<string> describe, TimeSpan? timeout = null)
    {
        var deadline = Stopwatch.StartNew();
        var limit = timeout ?? TimeSpan.FromSeconds(20);
        var delay = TimeSpan.FromMilliseconds(20);
        while (!condition())
        {
            if (deadline.Elapsed > limit) Assert.Fail($"Still false after {limit.TotalSeconds:0} s: {describe()}");
            await Task.Delay(delay);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 250));
        }
    }
}
