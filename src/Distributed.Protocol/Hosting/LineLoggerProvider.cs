using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Distributed.Protocol.Hosting;

/// <summary>
/// Writes each log entry as one line, text or JSON, straight to a writer. Synchronous on purpose: a
/// node's log is a few lines a minute, and the line that says why a program stopped must be out
/// before it exits (the console logger's queue can lose it).
/// </summary>
internal sealed class LineLoggerProvider(LogFormat format, TextWriter output) : ILoggerProvider
{
    // Log readers, not browsers, read these lines: quotes and apostrophes stay as they are where JSON allows.
    private static readonly JsonWriterOptions JsonOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly Lock _writing = new();

    public ILogger CreateLogger(string categoryName) => new LineLogger(this, categoryName);

    public void Dispose()
    {
        lock (_writing) output.Flush();
    }

    private void Write(LogLevel level, string category, string message, Exception? exception)
    {
        var now = DateTimeOffset.UtcNow;
        var line = format == LogFormat.Json ? Json(now, level, category, message, exception) : Text(now, level, category, message, exception);
        lock (_writing)
        {
            output.WriteLine(line);
            output.Flush();
        }
    }

    private static string Text(DateTimeOffset now, LogLevel level, string category, string message, Exception? exception)
    {
        var shortCategory = category[(category.LastIndexOf('.') + 1)..];
        var text = $"{now:yyyy-MM-ddTHH:mm:ss.fffZ} {Short(level)} {shortCategory}: {message}";
        return exception is null ? text : $"{text}{Environment.NewLine}{exception}";
    }

    private static string Json(DateTimeOffset now, LogLevel level, string category, string message, Exception? exception)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, JsonOptions))
        {
            json.WriteStartObject();
            json.WriteString("Timestamp", now.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture));
            json.WriteString("LogLevel", level.ToString());
            json.WriteString("Category", category);
            json.WriteString("Message", message);
            if (exception is not null) json.WriteString("Exception", exception.ToString());
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    private static string Short(LogLevel level) => level switch
    {
        LogLevel.Trace => "trce",
        LogLevel.Debug => "dbug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "fail",
        _ => "crit",
    };

    private sealed class LineLogger(LineLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            provider.Write(logLevel, category, formatter(state, exception), exception);
        }
    }
}
