using Akka.Actor;
using Akka.TestKit.Xunit2;
using Distributed.Protocol;

namespace Distributed.Tests.Serialization;

/// <summary><c>dworker --resources</c> and <c>TaskOptions.Resources</c>: what is accepted, what is refused and why, and how restrictions travel.</summary>
public sealed class ResourceAmountsTests() : TestKit("akka.actor.provider = local")
{
    [Fact]
    public void Names_and_amounts_parse_with_spaces_and_exponents()
    {
        var amounts = ResourceAmounts.Parse(" GPU=1, MEM = 8e9 ,license.x_y-z=0.5");

        Assert.Equal(new Dictionary<string, double> { ["GPU"] = 1, ["MEM"] = 8e9, ["license.x_y-z"] = 0.5 }, amounts);
        Assert.Equal("GPU=1,MEM=8000000000,license.x_y-z=0.5", ResourceAmounts.Format(amounts));
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("GPU", "not NAME=AMOUNT")]
    [InlineData("=1", "no name")]
    [InlineData("1GPU=1", "must start with a letter")]
    [InlineData("G PU=1", "may hold only")]
    [InlineData("GPU=one", "is not a number")]
    [InlineData("GPU=-1", "zero or more")]
    [InlineData("GPU=NaN", "finite")]
    [InlineData("GPU=Infinity", "finite")]
    [InlineData("GPU=1e400", "finite")]
    [InlineData("GPU=1,GPU=2", "twice")]
    [InlineData("GPU=1,", "empty entry")]
    public void Malformed_resources_are_refused_saying_what_is_wrong(string text, string why)
    {
        var error = Assert.Throws<FormatException>(() => ResourceAmounts.Parse(text));
        Assert.Contains(why, error.Message);
    }

    [Fact]
    public void Task_options_refuse_impossible_resources_and_blank_workers()
    {
        Assert.Throws<ArgumentException>(() => new TaskOptions { Resources = new Dictionary<string, double> { ["GPU"] = -1 } });
        Assert.Throws<ArgumentException>(() => new TaskOptions { Workers = ["a", " "] });
        Assert.Null(new TaskOptions().Restrictions);
        Assert.Null(new TaskOptions { Workers = [], Resources = new Dictionary<string, double>() }.Restrictions);
        var restrictions = new TaskOptions { Workers = ["w1"], Resources = new Dictionary<string, double> { ["GPU"] = 1 } }.Restrictions!;
        Assert.Equal(["w1"], restrictions.Workers);
        Assert.Equal(1, restrictions.Resources["GPU"]);
    }

    [Fact]
    public void Restrictions_round_trip_and_an_unrestricted_task_costs_no_byte_more()
    {
        var serializer = new ProtocolSerializer((ExtendedActorSystem)Sys);
        var plain = new TaskSpec("k", "f", ArgumentsKind.SingleValue, [1], []);
        var restricted = plain with { Restrictions = new TaskRestrictions(["w1", "127.0.0.1:9"], new Dictionary<string, double> { ["GPU"] = 1, ["MEM"] = 8e9 }) };
        var code = new CodeManifest("v", []);
        byte[] Bytes(TaskSpec task) => serializer.ToBinary(new SubmitTasks(code, [], [task]));

        var copy = (SubmitTasks)serializer.FromBinary(Bytes(restricted), serializer.Manifest(new SubmitTasks(code, [], [])));
        var back = Assert.Single(copy.Tasks).Restrictions!;
        Assert.Equal(["w1", "127.0.0.1:9"], back.Workers);
        Assert.Equal(new Dictionary<string, double> { ["GPU"] = 1, ["MEM"] = 8e9 }, back.Resources);
        var plainCopy = (SubmitTasks)serializer.FromBinary(Bytes(plain), serializer.Manifest(new SubmitTasks(code, [], [])));
        Assert.Null(Assert.Single(plainCopy.Tasks).Restrictions);
        // The same-function byte carries the flag: as many bytes as before restrictions existed. Code 10
        // (version 2, assembly count 4, native library count 4: once per message, not per task),
        // function count 4, task count 4; the task: key 2, flags 1, function id 2, kind 1, args 2,
        // dependency count 4, consumers 1, priority 8, timeout 1; then once per message whether a worker
        // took the tasks directly, 1.
        Assert.Equal(10 + 4 + 4 + (2 + 1 + 2 + 1 + 2 + 4 + 1 + 8 + 1) + 1, Bytes(plain).Length);
    }

    [Fact]
    public void A_frame_asking_for_a_negative_resource_is_a_wire_format_error()
    {
        var serializer = new ProtocolSerializer((ExtendedActorSystem)Sys);
        var code = new CodeManifest("v", []);
        var task = new TaskSpec("k", "f", ArgumentsKind.SingleValue, [1], [], Restrictions: new TaskRestrictions([], new Dictionary<string, double> { ["GPU"] = -2 }));
        var message = new SubmitTasks(code, [], [task]);

        Assert.Throws<WireFormatException>(() => serializer.FromBinary(serializer.ToBinary(message), serializer.Manifest(message)));
    }
}
