using Microsoft.Extensions.Logging;

namespace TrajectoryTransfer.Tests.Support;

/// <summary>A logger factory that keeps every formatted message, at every level, for tests that check what a run logged.</summary>
internal sealed class RecordingLoggerFactory : ILoggerFactory, ILogger
{
    public List<string> Messages { get; } = [];

    public ILogger CreateLogger(string categoryName) => this;

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Messages.Add(formatter(state, exception));

    public void Dispose()
    {
    }
}
