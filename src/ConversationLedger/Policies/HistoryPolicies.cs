using System.Diagnostics.CodeAnalysis;
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
    // One line per policy: its name, its form for help texts, examples (the policy tests try each), and how its arguments
    // (null when none were given) make it. A form that cannot take what it was given throws FormatException.
    private static readonly PolicyForm[] Table =
    [
        new("default", "default", ["default"], args => None(args, LedgerOptions.DefaultPolicy)),
        new("keep-all", "keep-all", ["keep-all"], args => None(args, KeepAllPolicy.Instance)),
        new("guide", "guide[:N]", ["guide:10"], args => SlidingWindowPolicy.Guide(args is null ? 20 : Count(args) is >= 3 and var n ? n
            : throw new FormatException("guide:N keeps the first exchange and the newest N − 2 messages, so N must be at least 3"))),
        new("truncate", "truncate:N", ["truncate:6", "truncate:1500t"], args => Required(args).EndsWith('t')
            ? SlidingWindowPolicy.TruncateOldest(tokens: Count(args![..^1]))
            : SlidingWindowPolicy.TruncateOldest(messages: Count(args!))),
        new("window", "window:N[/STEP]", ["window:8/4", "window:2000t/500t"], args => new SlidingWindowPolicy(Window(Required(args)))),
        new("summarize", "summarize:N[/STEP]", ["summarize:6/4"], args => new SummarizingPolicy(new SlidingWindowPolicy(Window(Required(args))))),
        new("keep-last-tokens", "keep-last-tokens:T", ["keep-last-tokens:1200"], args => new KeepLastTokensPolicy(Count(Required(args)))),
    ];

    /// <summary>The accepted forms, for help texts and errors.</summary>
    public static string Forms { get; } = string.Join(", ", Table.Select(f => f.Usage)) + " (N messages, or Nt tokens)";

    /// <summary>An example of every form, to try each policy with.</summary>
    public static IReadOnlyList<string> Examples { get; } = [.. Table.SelectMany(f => f.Examples)];

    /// <summary>The policy a name stands for.</summary>
    /// <exception cref="ArgumentException">The name is not one of <see cref="Forms"/>, naming what was wrong.</exception>
    public static IHistoryPolicy Parse(string spec)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(spec);
        return TryParse(spec, out var policy, out var error) ? policy : throw new ArgumentException(error, nameof(spec));
    }

    /// <summary>The policy a name stands for, or an error that says what was wrong with it (for the user, as it is).</summary>
    public static bool TryParse([NotNullWhen(true)] string? spec, [NotNullWhen(true)] out IHistoryPolicy? policy, [NotNullWhen(false)] out string? error)
    {
        policy = null;
        if (string.IsNullOrWhiteSpace(spec))
        {
            error = $"a history policy must be named; use one of: {Forms}";
            return false;
        }
        var parts = spec.Trim().Split(':', 2);
        var name = parts[0].ToLowerInvariant();
        if (Table.FirstOrDefault(f => f.Name == name) is not { } form)
        {
            error = $"unknown history policy \"{spec}\"; use one of: {Forms}";
            return false;
        }
        try
        {
            policy = form.Create(parts.Length > 1 ? parts[1] : null);
            error = null;
            return true;
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException)
        {
            error = $"history policy \"{spec}\": {ex.Message}";
            return false;
        }
    }

    private static IHistoryPolicy None(string? args, IHistoryPolicy policy) =>
        args is null ? policy : throw new FormatException("this policy takes no arguments");

    private static string Required(string? args) => args ?? throw new FormatException("this policy needs a size, e.g. :20 (messages) or :8000t (tokens)");

    private static SlidingWindowOptions Window(string args)
    {
        var numbers = args.Split('/', 2);
        var step = numbers.Length > 1 ? numbers[1] : null;
        if (numbers[0].EndsWith('t'))
        {
            return new SlidingWindowOptions
            {
                Messages = null,
                Tokens = Count(numbers[0][..^1]),
                TokenStep = step is null ? 1 : Count(step.TrimEnd('t')),
            };
        }
        return new SlidingWindowOptions { Messages = Count(numbers[0]), MessageStep = step is null ? 1 : Count(step) };
    }

    private static int Count(string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : throw new FormatException($"\"{text}\" is not a positive whole number");

    private sealed record PolicyForm(string Name, string Usage, string[] Examples, Func<string?, IHistoryPolicy> Create);
}
