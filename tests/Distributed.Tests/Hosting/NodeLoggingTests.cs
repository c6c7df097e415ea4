using System.Text.Json;
using Akka.Actor;
using Akka.Event;
using Distributed.Protocol.Hosting;
using Microsoft.Extensions.Logging;
using LogLevel = Microsoft.Extensions.Logging.LogLevel;

namespace Distributed.Tests.Hosting;

/// <summary>The programs' log: levels, the two line formats, and Akka's log bridged into it.</summary>
public sealed class NodeLoggingTests
{
    [Theory]
    [InlineData("trace", LogLevel.Trace)]
    [InlineData("Information", LogLevel.Information)]
    [InlineData("info", LogLevel.Information)]
    [InlineData("warn", LogLevel.Warning)]
    [InlineData("critical", LogLevel.Critical)]
    public void Level_names_parse(string name, LogLevel level) => Assert.Equal(level, NodeLogging.ParseLevel(name));

    [Fact]
    public void An_unknown_level_names_the_known_ones()
    {
        var error = Assert.Throws<FormatException>(() => NodeLogging.ParseLevel("loud"));
        Assert.Contains("information", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Json_lines_carry_level_category_and_message_and_escape_what_needs_it()
    {
        var output = new StringWriter();
        using var factory = LoggerFactory.Create(b => b.AddProvider(new LineLoggerProvider(LogFormat.Json, output)));

        Write(factory.CreateLogger("Distributed.Center.CenterActor"), LogLevel.Information, "Worker w1 joined \"quoted\"");

        using var line = JsonDocument.Parse(output.ToString().Trim());
        Assert.Equal("Information", line.RootElement.GetProperty("LogLevel").GetString());
        Assert.Equal("Distributed.Center.CenterActor", line.RootElement.GetProperty("Category").GetString());
        Assert.Equal("Worker w1 joined \"quoted\"", line.RootElement.GetProperty("Message").GetString());
    }

    [Fact]
    public void Text_lines_are_one_line_with_the_short_category()
    {
        var output = new StringWriter();
        using var factory = LoggerFactory.Create(b => b.AddProvider(new LineLoggerProvider(LogFormat.Text, output)));

        Write(factory.CreateLogger("Distributed.Center.CenterActor"), LogLevel.Warning, "Worker w1 left");

        var line = Assert.Single(output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.EndsWith(" warn CenterActor: Worker w1 left", line.TrimEnd('\r'), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Akka_log_events_reach_the_factory_at_their_level_and_akkas_own_chatter_is_kept_to_warnings()
    {
        var output = new StringWriter();
        NodeLogging.Configure(LogLevel.Information, LogFormat.Json, TextWriter.Synchronized(output));
        var config = NodeLogging.AkkaSettings(LogLevel.Information).WithFallback("akka.stdout-loglevel = OFF");
        using var system = ActorSystem.Create("logging-bridge", config);
        try
        {
            var ours = Logging.GetLogger(system, typeof(NodeLoggingTests));
            ours.Info("hello from {0}", "our code");
            var akkas = Logging.GetLogger(system, typeof(ActorSystem)); // as Akka's own classes log
            akkas.Info("akka's own chatter");
            akkas.Warning("akka's warning");
            await Eventually.TrueAsync(() => output.ToString().Contains("akka's warning", StringComparison.Ordinal) && output.ToString().Contains("our code", StringComparison.Ordinal),
                () => output.ToString());
            Assert.DoesNotContain("akka's own chatter", output.ToString(), StringComparison.Ordinal);
            Assert.Contains("\"Category\":\"Distributed.Tests.Hosting.NodeLoggingTests\"", output.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            await system.Terminate();
        }
    }

    private static void Write(ILogger logger, LogLevel level, string text) => logger.Log(level, default, text, null, static (t, _) => t);
}
