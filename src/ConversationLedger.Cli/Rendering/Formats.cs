using System.Globalization;
using Spectre.Console;

namespace ConversationLedger.Cli.Rendering;

/// <summary>How figures and text are written in every view, so a count, a price or a cut line looks the same everywhere.</summary>
public static class Formats
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>A share as a percentage, "12.5%".</summary>
    public static string Percent(double share, int decimals) =>
        (share * 100).ToString("F" + decimals.ToString(Invariant), Invariant) + "%";

    /// <summary>A count with thousands separators, "12,345".</summary>
    public static string Count(long value) => value.ToString("N0", Invariant);

    /// <summary>US dollars with enough digits for a single cheap call.</summary>
    public static string Money(decimal usd) => "$" + usd.ToString(usd < 0.01m ? "0.000000" : "0.0000", Invariant);

    /// <summary>The text on one line, cut after <paramref name="max"/> chars with an ellipsis.</summary>
    public static string Shorten(string text, int max)
    {
        ArgumentNullException.ThrowIfNull(text);
        var line = text.ReplaceLineEndings(" ");
        return line.Length <= max ? line : string.Concat(line.AsSpan(0, max), "…");
    }

    /// <summary>
    /// The text on one line; on a terminal cut after <paramref name="max"/> chars, piped never cut (a pipe has no width).
    /// </summary>
    public static string Shorten(IAnsiConsole console, string text, int max)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Output.IsTerminal(console) ? Shorten(text, max) : text.ReplaceLineEndings(" ");
    }
}
