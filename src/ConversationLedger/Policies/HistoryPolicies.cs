using System.Globalization;

namespace ConversationLedger;

/// <summary>
/// History policies by name, for command lines and configuration:
/// <c>default</c>, <c>keep-all</c>, <c>guide[:N]</c>, <c>truncate:N</c> (messages) or <c>truncate:Nt</c> (tokens),
/// <c>window:N[/STEP]</c> (pins + the newest N messages moving in steps) and <c>summarize:N[/STEP]</c>.
/// </summary>
public static class HistoryPolicies
{
    /// <summary>The accepted forms, for help texts and errors.</summary>
    public const string Forms = "default, keep-all, guide[:N], truncate:N or truncate:Nt (tokens), window:N[/STEP], summarize:N[/STEP]";

    /// <summary>The policy a name stands for.</summary>
    /// <exception cref="ArgumentException">The name is not one of <see cref="Forms"/>, naming what was wrong.</exception>
    public static IHistoryPolicy Parse(string spec)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(spec);
        var parts = spec.Trim().Split(':', 2);
        var name = parts[0].ToLowerInvariant();
        var args = parts.Length > 1 ? parts[1] : null;
        return (name, args) switch
        {
            ("default", null) => LedgerOptions.DefaultPolicy,
            ("keep-all", null) => KeepAllPolicy.Instance,
            ("guide", _) => SlidingWindowPolicy.Guide(args is null ? 20 : Count(args, spec)),
            ("truncate", not null) when args.EndsWith('t') => SlidingWindowPolicy.TruncateOldest(tokens: Count(args[..^1], spec)),
            ("truncate", not null) => SlidingWindowPolicy.TruncateOldest(messages: Count(args, spec)),
            ("window", not null) => new SlidingWindowPolicy(Window(args, spec)),
            ("summarize", not null) => new SummarizingPolicy(new SlidingWindowPolicy(Window(args, spec))),
            _ => throw new ArgumentException($"unknown history policy \"{spec}\"; use one of: {Forms}", nameof(spec)),
        };
    }

    private static SlidingWindowOptions Window(string args, string spec)
    {
        var numbers = args.Split('/', 2);
        return new SlidingWindowOptions
        {
            Messages = Count(numbers[0], spec),
            MessageStep = numbers.Length > 1 ? Count(numbers[1], spec) : 1,
        };
    }

    private static int Count(string text, string spec) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : throw new ArgumentException($"history policy \"{spec}\": \"{text}\" is not a positive whole number", nameof(spec));
}
