using Distributed.Protocol.Hosting;

namespace Distributed.Tests.Hosting;

public sealed class ByteSizeTests
{
    [Theory]
    [InlineData("2GB", 2_000_000_000L)]
    [InlineData("512MB", 512_000_000L)]
    [InlineData("64MiB", 64L * 1024 * 1024)]
    [InlineData("1.5GB", 1_500_000_000L)]
    [InlineData("1.5 gib", 1_610_612_736L)]
    [InlineData("32mb", 32_000_000L)]
    [InlineData("4k", 4_000L)]
    [InlineData("1000000", 1_000_000L)]
    [InlineData("123B", 123L)]
    [InlineData(" 2TB ", 2_000_000_000_000L)]
    public void Sizes_parse_with_decimal_and_binary_units(string text, long bytes) =>
        Assert.Equal(bytes, ByteSize.Parse(text));

    [Theory]
    [InlineData("", "not a size")]
    [InlineData("lots", "not a size")]
    [InlineData("2XB", "not a size")]
    [InlineData("GB", "not a size")]
    [InlineData("1.2.3GB", "not a size")]
    [InlineData("0", "more than 0")]
    [InlineData("-5MB", "more than 0")]
    [InlineData("0.1", "less than 1 byte")]
    [InlineData("99999999999TB", "too large")]
    public void Bad_sizes_fail_quoting_the_text_and_the_problem(string text, string problem)
    {
        var error = Assert.Throws<FormatException>(() => ByteSize.Parse(text));
        Assert.Contains($"'{text}'", error.Message);
        Assert.Contains(problem, error.Message);
    }

    [Theory]
    [InlineData(512L, "512 bytes")]
    [InlineData(32_000_000L, "32 MB")]
    [InlineData(14_400_000_000L, "14.4 GB")]
    [InlineData(67_108_864L, "67.1 MB")]
    public void Sizes_format_for_people(long bytes, string text) => Assert.Equal(text, ByteSize.Format(bytes));
}
