using ConversationLedger.Cli.Chat.Input;
using ConversationLedger.Cli.Tests.Support;

namespace ConversationLedger.Cli.Tests;

/// <summary>The chat's line editor, driven by the bytes a terminal in raw mode sends.</summary>
public sealed class LineEditorTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("ledger-editor-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static async Task<EditorResult> ReadAsync(ScriptedTerminal terminal, InputHistory? history = null) =>
        await new LineEditor(terminal, history ?? new InputHistory()).ReadAsync("you> ", null).WaitAsync(TimeSpan.FromSeconds(10));

    [Theory]
    [InlineData("helo\u001b[Dl\r", "hello")] // Left (CSI)
    [InlineData("helo\u001bODl\r", "hello")] // Left (application mode, SS3)
    [InlineData("world\u001b[Hhello \u001b[F!\r", "hello world!")] // Home, End
    [InlineData("world\u0001hello \u0005!\r", "hello world!")] // Ctrl+A, Ctrl+E
    [InlineData("b\u0002a\u0006c\r", "abc")] // Ctrl+B, Ctrl+F
    [InlineData("one three\u001b[1;5Dtwo \r", "one two three")] // Ctrl+Left
    [InlineData("one three\u001bbtwo \u001bf!\r", "one two three!")] // Alt+B, Alt+F
    [InlineData("abcd\u007f\u007f\r", "ab")] // Backspace
    [InlineData("abcd\u001b[D\u001b[D\u001b[3~\r", "abd")] // Delete
    [InlineData("ab\u001b[D\u0004\r", "a")] // Ctrl+D on text deletes under the cursor
    [InlineData("typo here\u0015fixed\r", "fixed")] // Ctrl+U
    [InlineData("one two\u0017three\r", "one three")] // Ctrl+W
    [InlineData("keep this\u001b[D\u001b[D\u001b[D\u001b[D\u000b\r", "keep ")] // Ctrl+K
    [InlineData("keep this\u001b[H\u001bd\r", " this")] // Alt+D
    [InlineData("ab\u000cc\r", "abc")] // Ctrl+L redraws, stores nothing
    [InlineData("x\u001b\u0007\u0000\u0012y\r", "xy")] // Escape, Ctrl+G, NUL, Ctrl+R: nothing
    public async Task Editing_keys_edit_the_line_and_never_become_text(string keys, string expected)
    {
        var result = await ReadAsync(new ScriptedTerminal().Type(keys));

        Assert.Equal(new EditorResult(EditorOutcome.Line, expected), result);
    }

    [Fact]
    public async Task Keys_split_across_reads_are_still_decoded()
    {
        var terminal = new ScriptedTerminal().Type("ab\u001b").Type("[D").Type("X\u001b[").Type("F\r");

        var result = await ReadAsync(terminal);

        Assert.Equal("aXb", result.Text);
    }

    [Fact]
    public async Task Ctrl_L_clears_the_screen_and_draws_the_line_again()
    {
        var terminal = new ScriptedTerminal().Type("abc\u000c\r");

        await ReadAsync(terminal);

        var cleared = terminal.Drawn.LastIndexOf("\u001b[2J", StringComparison.Ordinal);
        Assert.True(cleared >= 0, terminal.Drawn);
        Assert.Contains("you> abc", terminal.Drawn[cleared..]);
    }

    [Fact]
    public async Task A_bracketed_paste_is_inserted_whole_with_its_indentation_and_Enter_sends_it()
    {
        var terminal = new ScriptedTerminal()
            .Type("\u001b[200~def f(x):\r    if x:\r\t\treturn 1\r\u001b[201~")
            .Type("\r");

        var result = await ReadAsync(terminal);

        Assert.Equal(EditorOutcome.Line, result.Outcome);
        Assert.Equal("def f(x):\n    if x:\n\t\treturn 1", ChatText.Clean(result.Text));
    }

    [Fact]
    public async Task A_paste_keeps_no_control_characters_or_escape_sequences()
    {
        var terminal = new ScriptedTerminal().Type("\u001b[200~red \u001b[31mtext\u001b[0m\u0007 and\u0015 more\u001b[201~\r");

        var result = await ReadAsync(terminal);

        Assert.Equal("red text and more", result.Text);
    }

    [Fact]
    public async Task Alt_Enter_and_Ctrl_J_start_a_new_line_and_Enter_sends_all_lines()
    {
        var result = await ReadAsync(new ScriptedTerminal().Type("line one\u001b\rline two\nline three\r"));

        Assert.Equal("line one\nline two\nline three", result.Text);
    }

    [Fact]
    public async Task A_triple_quote_block_continues_on_Enter_until_it_is_closed()
    {
        var result = await ReadAsync(new ScriptedTerminal().Type("\"\"\"\r/not a command\r  indented\r\"\"\"\r"));

        Assert.Equal(EditorOutcome.Line, result.Outcome);
        Assert.Equal("/not a command\n  indented", LineEditor.Unfence(result.Text, out var fenced));
        Assert.True(fenced);
    }

    [Fact]
    public async Task Ctrl_D_on_a_half_typed_line_does_not_send_it_and_on_an_empty_line_ends()
    {
        var halfTyped = await ReadAsync(new ScriptedTerminal().Type("half typed\u0004"));
        var empty = await ReadAsync(new ScriptedTerminal().Type("\u0004"));

        Assert.Equal(new EditorResult(EditorOutcome.End), halfTyped);
        Assert.Equal(new EditorResult(EditorOutcome.End), empty);
    }

    [Fact]
    public async Task Ctrl_C_drops_a_typed_line_and_on_an_empty_line_is_reported()
    {
        var terminal = new ScriptedTerminal();
        var editor = new LineEditor(terminal, new InputHistory());
        terminal.Type("dropped").Then(editor.Interrupt).Type("kept\r").Then(editor.Interrupt);

        var first = await editor.ReadAsync("you> ", null).WaitAsync(TimeSpan.FromSeconds(10));
        var second = await editor.ReadAsync("you> ", null).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(new EditorResult(EditorOutcome.Line, "kept"), first);
        Assert.Equal(new EditorResult(EditorOutcome.Interrupted), second);
        Assert.Equal(terminal.RawEntered, terminal.RawLeft);
    }

    [Fact]
    public async Task Up_and_Down_recall_earlier_entries_and_the_draft()
    {
        var history = new InputHistory();
        history.Add("first");
        history.Add("second");

        var recalled = await ReadAsync(new ScriptedTerminal().Type("\u001b[A\u001b[A\r"), history);
        var draft = await ReadAsync(new ScriptedTerminal().Type("draft\u001b[A\u001b[B!\r"), history);

        Assert.Equal("first", recalled.Text);
        Assert.Equal("draft!", draft.Text);
    }

    [Fact]
    public async Task History_is_kept_in_its_file_across_editors_multi_line_entries_included()
    {
        var file = Path.Combine(_folder, "t.history.jsonl");
        await ReadAsync(new ScriptedTerminal().Type("one\u001b\rtwo\r"), new InputHistory(file));
        await ReadAsync(new ScriptedTerminal().Type("three\r"), new InputHistory(file));

        var recalled = await ReadAsync(new ScriptedTerminal().Type("\u001b[A\u001b[A\r"), new InputHistory(file));

        Assert.Equal("one\ntwo", recalled.Text);
        Assert.Equal(["one\ntwo", "three", "one\ntwo"], new InputHistory(file).Entries);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        }
    }

    [Fact]
    public async Task Up_and_Down_move_between_the_lines_of_a_multi_line_message()
    {
        var result = await ReadAsync(new ScriptedTerminal().Type("abc\u001b\rdef\u001b[A\u001b[DX\u001b[B\u001b[DY\r"));

        Assert.Equal("abXc\ndeYf", result.Text);
    }

    [Fact]
    public async Task A_message_taller_than_the_terminal_is_drawn_without_moving_above_the_screen()
    {
        var terminal = new ScriptedTerminal { Height = 5, Width = 20 }
            .Type("\u001b[200~" + string.Join("\r", Enumerable.Range(1, 30).Select(i => $"line {i}")) + "\u001b[201~")
            .Type("\u001b[A\u001b[A!\r");

        var result = await ReadAsync(terminal);

        Assert.Contains("line 28!", result.Text);
        // The cursor never moves up more rows than the terminal shows.
        var ups = System.Text.RegularExpressions.Regex.Matches(terminal.Drawn, "\u001b\\[(\\d+)A").Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        Assert.All(ups, up => Assert.True(up < terminal.Height, $"moved up {up} rows"));
    }

    [Fact]
    public async Task A_line_wider_than_the_terminal_wraps_and_edits_in_place()
    {
        var terminal = new ScriptedTerminal { Width = 10 }.Type("abcdefghijklmnop\u001b[H>\r");

        var result = await ReadAsync(terminal);

        Assert.Equal(">abcdefghijklmnop", result.Text);
    }
}
