using System.Runtime.InteropServices;

namespace ConversationLedger.Cli.Chat.Input;

/// <summary>
/// Standard input and output when both are a terminal, on Linux and macOS: raw mode through termios (echo, line
/// buffering, flow control and CR→NL translation off; ISIG kept, so Ctrl+C stays the interrupt the rest of the CLI
/// routes), reads through <c>poll</c> so a read can be given up, and bracketed paste switched on only while the editor
/// reads (a paste during a reply is not wrapped in markers the cooked terminal would echo).
/// </summary>
public sealed partial class UnixTerminal : ITerminal
{
    private const int StdIn = 0;
    private readonly Layout _layout;

    private UnixTerminal(TextWriter output, Layout layout)
    {
        Output = output;
        _layout = layout;
    }

    /// <inheritdoc />
    public int Width => Safe(() => Console.WindowWidth, 80);

    /// <inheritdoc />
    public int Height => Safe(() => Console.WindowHeight, 24);

    /// <inheritdoc />
    public TextWriter Output { get; }

    /// <summary>The terminal of this process, or null when input or output is not a terminal (or the platform is not supported).</summary>
    public static UnixTerminal? TryOpen(TextWriter output, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(environment);
        var layout = OperatingSystem.IsLinux() ? Layout.Linux : OperatingSystem.IsMacOS() ? Layout.MacOS : null;
        if (layout is null || Console.IsInputRedirected || Console.IsOutputRedirected || environment("TERM") is null or "dumb")
        {
            return null;
        }
        try
        {
            var probe = new byte[TermiosSize];
            return TcGetAttr(StdIn, probe) == 0 ? new UnixTerminal(output, layout) : null;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    /// <inheritdoc />
    public IDisposable EnterRawMode()
    {
        var saved = new byte[TermiosSize];
        if (TcGetAttr(StdIn, saved) != 0)
        {
            throw new IOException($"cannot read the terminal's settings (errno {Marshal.GetLastPInvokeError()})");
        }
        var raw = (byte[])saved.Clone();
        _layout.MakeRaw(raw);
        if (TcSetAttr(StdIn, 0, raw) != 0)
        {
            throw new IOException($"cannot set the terminal to raw mode (errno {Marshal.GetLastPInvokeError()})");
        }
        Output.Write("\u001b[?2004h");
        Output.Flush();
        return new Restore(this, saved);
    }

    /// <inheritdoc />
    public int Read(Span<byte> buffer, int timeoutMilliseconds)
    {
        var poll = new PollFd { Fd = StdIn, Events = PollIn };
        var ready = Poll(ref poll, 1, timeoutMilliseconds);
        if (ready <= 0)
        {
            return 0; // timeout, or EINTR (a signal such as SIGWINCH): the caller reads again
        }
        if ((poll.ReturnedEvents & PollIn) == 0)
        {
            return (poll.ReturnedEvents & (PollHup | PollErr | PollNval)) != 0 ? -1 : 0;
        }
        var read = ReadFd(StdIn, ref MemoryMarshal.GetReference(buffer), buffer.Length);
        return read > 0 ? (int)read : read == 0 ? -1 : 0;
    }

    private static int Safe(Func<int> read, int fallback)
    {
        try
        {
            var value = read();
            return value > 0 ? value : fallback;
        }
        catch (IOException)
        {
            return fallback;
        }
    }

    private sealed class Restore(UnixTerminal terminal, byte[] saved) : IDisposable
    {
        private bool _disposed;

        public void Dispose()
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            terminal.Output.Write("\u001b[?2004l");
            terminal.Output.Flush();
            _ = TcSetAttr(StdIn, 0, saved);
        }
    }

    // struct termios differs by platform: the width of tcflag_t, where c_cc starts and the flag values.
    private sealed record Layout(int FlagSize, int IFlag, int LFlag, int ControlChars, int VMin, int VTime,
        ulong Icrnl, ulong Ixon, ulong Inlcr, ulong Icanon, ulong Echo, ulong Iexten)
    {
        public static readonly Layout Linux = new(4, 0, 12, 17, 6, 5, Icrnl: 0x100, Ixon: 0x400, Inlcr: 0x40, Icanon: 0x2, Echo: 0x8, Iexten: 0x8000);
        public static readonly Layout MacOS = new(8, 0, 24, 32, 16, 17, Icrnl: 0x100, Ixon: 0x200, Inlcr: 0x40, Icanon: 0x100, Echo: 0x8, Iexten: 0x400);

        public void MakeRaw(byte[] termios)
        {
            Clear(termios, IFlag, Icrnl | Ixon | Inlcr);
            // ISIG stays: Ctrl+C reaches the process as SIGINT, as everywhere else in the CLI.
            Clear(termios, LFlag, Icanon | Echo | Iexten);
            termios[ControlChars + VMin] = 1;
            termios[ControlChars + VTime] = 0;
        }

        private void Clear(byte[] termios, int offset, ulong flags)
        {
            if (FlagSize == 4)
            {
                var value = BitConverter.ToUInt32(termios, offset) & ~(uint)flags;
                BitConverter.TryWriteBytes(termios.AsSpan(offset, 4), value);
            }
            else
            {
                var value = BitConverter.ToUInt64(termios, offset) & ~flags;
                BitConverter.TryWriteBytes(termios.AsSpan(offset, 8), value);
            }
        }
    }

    // Larger than struct termios on every supported platform (60 bytes on Linux, 72 on macOS).
    private const int TermiosSize = 256;
    private const short PollIn = 0x1;
    private const short PollErr = 0x8;
    private const short PollHup = 0x10;
    private const short PollNval = 0x20;

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short ReturnedEvents;
    }

    [LibraryImport("libc", EntryPoint = "tcgetattr", SetLastError = true)]
    private static partial int TcGetAttr(int fd, [Out] byte[] termios);

    [LibraryImport("libc", EntryPoint = "tcsetattr", SetLastError = true)]
    private static partial int TcSetAttr(int fd, int optionalActions, byte[] termios);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static partial int Poll(ref PollFd fds, nuint count, int timeout);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static partial nint ReadFd(int fd, ref byte buffer, nint count);
}
