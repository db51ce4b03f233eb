using ConversationLedger.Cli.Hosting;

namespace ConversationLedger.Cli.Tests.Support;

/// <summary>A pager that keeps what it was given.</summary>
public sealed class FakePager : IPager
{
    public List<string> Shown { get; } = [];

    public Task<bool> ShowAsync(string text, CancellationToken cancellationToken = default)
    {
        Shown.Add(text);
        return Task.FromResult(true);
    }
}
