using Xunit.Abstractions;
using Xunit.Sdk;

namespace ConversationLedger.Stores.Tests;

/// <summary>
/// xunit's own test framework, plus a way for <see cref="Servers"/> to say which servers are missing: a diagnostic
/// message, which <c>dotnet test</c> shows in its output (xunit.runner.json turns them on), once per test assembly.
/// A skip reason alone shows only at detailed verbosity, and a test host's own stderr not at all.
/// </summary>
public sealed class ServersNotice : XunitTestFramework
{
    public ServersNotice(IMessageSink messageSink)
        : base(messageSink)
    {
        Servers.Notice = line => messageSink.OnMessage(new DiagnosticMessage(line));
    }
}
