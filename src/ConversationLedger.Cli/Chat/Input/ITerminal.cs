namespace ConversationLedger.Cli.Chat.Input;

/// <summary>
/// The interactive terminal the chat's line editor works on: raw key bytes in, ANSI text out. The process gets
/// <see cref="UnixTerminal"/> when standard input and output are a terminal; tests script one.
/// </summary>
public interface ITerminal
{
    /// <summary>The width in columns.</summary>
    int Width { get; }

    /// <summary>The height in rows.</summary>
    int Height { get; }

    /// <summary>Where the editor draws (the same stream as the rest of the chat's output).</summary>
    TextWriter Output { get; }

    /// <summary>
    /// Puts the terminal in raw mode (no echo, no line buffering, Ctrl+C still an interrupt) with bracketed paste on,
    /// until the returned handle is disposed.
    /// </summary>
    IDisposable EnterRawMode();

    /// <summary>Waits at most <paramref name="timeoutMilliseconds"/> for input and reads what there is.</summary>
    /// <returns>The bytes read; 0 when nothing came in time; −1 at the end of input (the terminal closed).</returns>
    int Read(Span<byte> buffer, int timeoutMilliseconds);
}
