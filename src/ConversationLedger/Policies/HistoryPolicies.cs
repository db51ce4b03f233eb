using System.Globalization;

namespace ConversationLedger;

/// <summary>
/// History policies by name, for command lines and configuration:
/// <c>default</c>, <c>keep-all</c>, <c>guide[:N]</c>, <c>truncate:N</c> (messages) or <c>truncate:Nt</c> (tokens),
/// <c>window:N[/STEP]</c> (pins + the newest N messages moving in steps) and <c>summarize:N[/STEP]</c>; a <c>t</c>
/// after the numbers counts tokens instead of messages (<c>summarize:8000t/2000t</c>: pins + summary + a window of
/// the newest 8,000 tokens moving in 2,000-token steps — a token budget).
/// </summary>
public static class HistoryPolicies
{
    /// <summary>The accepted forms, for help texts and errors.</summary>
    public const string Forms = "default, keep-all, guide[:N], truncate:N, window:N[/STEP], summarize:N[/STEP] (N messages, or Nt tokens)";

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
            ("guide", _) => SlidingWindowPolicy.Guide(args is null ? 20 : Count(args, spec) is >= 3 and var n ? n
                : throw new ArgumentException($"history policy \"{spec}\": guide:N keeps the first exchange and the newest N − 2 messages, so N must be at least 3", nameof(spec))),
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
        var step = numbers.Length > 1 ? numbers[1] : null;
        if (numbers[0].EndsWith('t'))
        {
            return new SlidingWindowOptions
            {
                Messages = null,
                Tokens = Count(numbers[0][..^1], spec),
                TokenStep = step is null ? 1 : Count(step.TrimEnd('t'), spec),
            };
        }
        return new SlidingWindowOptions { Messages = Count(numbers[0], spec), MessageStep = step is null ? 1 : Count(step, spec) };
    }

    private static int Count(string text, string spec) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : throw new ArgumentException($"history policy \"{spec}\": \"{text}\" is not a positive whole number", nameof(spec));
}
