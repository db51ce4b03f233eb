using System.Text;
using Spectre.Console;

namespace ConversationLedger.Cli.Rendering;

/// <summary>
/// A table that suits where it goes: on a terminal a Spectre table that fits the width (figures never wrap, text
/// columns do); anywhere else (a pipe, a file) plain text — a header line and one line per row, columns aligned with
/// spaces, no borders, no colours, nothing wrapped or cut, no trailing spaces — so <c>grep</c>, <c>cut</c> and
/// <c>awk</c> see every row whole.
/// </summary>
public sealed class TextTable
{
    private readonly List<(string Header, bool Figure)> _columns = [];
    private readonly List<Cell[]> _rows = [];

    /// <summary>A line written under the table, or null. <value>The default value is null.</value></summary>
    public string? Caption { get; set; }

    /// <summary>A column of text (left-aligned; wraps on a terminal).</summary>
    public TextTable Text(string header)
    {
        ArgumentNullException.ThrowIfNull(header);
        _columns.Add((header, false));
        return this;
    }

    /// <summary>A column of figures (right-aligned; never wraps).</summary>
    public TextTable Figure(string header)
    {
        ArgumentNullException.ThrowIfNull(header);
        _columns.Add((header, true));
        return this;
    }

    /// <summary>Adds a row of plain cells, one per column.</summary>
    public TextTable Row(params string[] cells) => Row(cells.Select(text => new Cell(text)).ToArray());

    /// <summary>Adds a row, one cell per column.</summary>
    /// <exception cref="ArgumentException">The row has another number of cells than the table has columns.</exception>
    public TextTable Row(params Cell[] cells)
    {
        ArgumentNullException.ThrowIfNull(cells);
        if (cells.Length != _columns.Count)
        {
            throw new ArgumentException($"a row of {cells.Length} cells in a table of {_columns.Count} columns", nameof(cells));
        }
        _rows.Add(cells);
        return this;
    }

    /// <summary>Writes the table: a Spectre table when the console's output is a terminal, plain text otherwise.</summary>
    public void Write(IAnsiConsole console)
    {
        ArgumentNullException.ThrowIfNull(console);
        if (Output.IsTerminal(console))
        {
            WriteTable(console);
        }
        else
        {
            Output.WriteRaw(console, ToPlainText());
        }
    }

    /// <summary>The table as plain text, one line per row (each ending in a newline), the caption last.</summary>
    public string ToPlainText()
    {
        var widths = _columns.Select((column, i) => Math.Max(column.Header.Length, _rows.Count == 0 ? 0 : _rows.Max(r => r[i].Text.Length))).ToArray();
        var text = new StringBuilder();
        void Line(IReadOnlyList<string> cells)
        {
            var line = new StringBuilder();
            for (var i = 0; i < cells.Count; i++)
            {
                if (i > 0)
                {
                    line.Append("  ");
                }
                // One line per row: a cell's own line breaks would split the row.
                var cell = cells[i].ReplaceLineEndings(" ");
                line.Append(_columns[i].Figure ? cell.PadLeft(widths[i]) : cell.PadRight(widths[i]));
            }
            text.Append(line.ToString().TrimEnd()).Append('\n');
        }
        Line(_columns.Select(c => c.Header).ToArray());
        foreach (var row in _rows)
        {
            Line(row.Select(c => c.Text).ToArray());
        }
        if (Caption is not null)
        {
            text.Append(Caption).Append('\n');
        }
        return text.ToString();
    }

    private void WriteTable(IAnsiConsole console)
    {
        var table = new Table().Border(TableBorder.Simple);
        foreach (var (header, figure) in _columns)
        {
            table.AddColumn(figure ? new TableColumn(header).NoWrap().RightAligned() : new TableColumn(header));
        }
        foreach (var row in _rows)
        {
            table.AddRow(row.Select(cell => cell.Style is null ? Markup.Escape(cell.Text) : $"[{cell.Style}]{Markup.Escape(cell.Text)}[/]").ToArray());
        }
        if (Caption is not null)
        {
            table.Caption($"[dim]{Markup.Escape(Caption)}[/]");
        }
        console.Write(table);
    }

    /// <summary>One cell: its text and, on a terminal, a Spectre style (<c>bold</c>, <c>dim</c> …).</summary>
    /// <param name="Text">The text (plain, not markup).</param>
    /// <param name="Style">The style on a terminal, or null.</param>
    public sealed record Cell(string Text, string? Style = null);
}
