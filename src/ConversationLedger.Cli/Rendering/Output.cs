using System.Text.Json;
using Spectre.Console;

namespace ConversationLedger.Cli.Rendering;

/// <summary>Where output goes and how it is written when it must not be reflowed (JSON, plain tables).</summary>
public static class Output
{
    /// <summary>Whether the console writes to a terminal (not a pipe or a file).</summary>
    public static bool IsTerminal(IAnsiConsole console)
    {
        ArgumentNullException.ThrowIfNull(console);
        return console.Profile.Out.IsTerminal;
    }

    /// <summary>Writes <paramref name="text"/> as it is, past the console's wrapping at its width.</summary>
    public static void WriteRaw(IAnsiConsole console, string text)
    {
        ArgumentNullException.ThrowIfNull(console);
        var writer = console.Profile.Out.Writer;
        writer.Write(text);
        writer.Flush();
    }

    /// <summary>Writes one JSON document (indented, non-ASCII text kept readable), then a newline.</summary>
    public static void WriteJson(IAnsiConsole console, Action<Utf8JsonWriter> write)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(write);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            write(json);
        }
        WriteRaw(console, System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length) + "\n");
    }
}
