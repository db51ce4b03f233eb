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

    /// <summary>Whether the column headers are written. <value>The default value is true.</value></summary>
    public bool Headers { get; set; } = true;

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

    /// <summary>Rows written at a time when a table is long: Ctrl+C stops it between them.</summary>
    public const int RowsPerPart = 200;

    /// <summary>
    /// Writes the table: a Spectre table when the console's output is a terminal, plain text otherwise. A long table is
    /// written <see cref="RowsPerPart"/> rows at a time, its columns as wide in every part, and
    /// <paramref name="cancellationToken"/> is checked between parts; <paramref name="written"/> hears the rows written so far.
    /// </summary>
    public void Write(IAnsiConsole console, Action<int>? written = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(console);
        if (!Output.IsTerminal(console))
        {
            var lines = PlainLines();
            for (var at = 0; at < lines.Count; at += RowsPerPart)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var part = lines.Skip(at).Take(RowsPerPart).ToList();
                Output.WriteRaw(console, string.Concat(part.Select(line => line + "\n")));
                written?.Invoke(Math.Min(_rows.Count, at + part.Count - (Headers ? 1 : 0)));
            }
            return;
        }
        if (_rows.Count <= RowsPerPart)
        {
            cancellationToken.ThrowIfCancellationRequested();
            console.Write(Table(_rows, headers: Headers, caption: true, widths: null));
            written?.Invoke(_rows.Count);
            return;
        }
        // Parts without borders, so they join up; the header and its rule are drawn once, as wide as the columns.
        var widths = Widths(console.Profile.Width);
        if (Headers)
        {
            console.Write(Table([], headers: true, caption: false, widths));
            console.MarkupLine($"[dim]{new string('─', widths.Sum(w => w + 2))}[/]");
        }
        for (var at = 0; at < _rows.Count; at += RowsPerPart)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var part = _rows.Skip(at).Take(RowsPerPart).ToList();
            console.Write(Table(part, headers: false, caption: at + part.Count == _rows.Count, widths));
            written?.Invoke(at + part.Count);
        }
    }

    /// <summary>The table as plain text, one line per row (each ending in a newline), the caption last.</summary>
    public string ToPlainText() => string.Concat(PlainLines().Select(line => line + "\n"));

    private List<string> PlainLines()
    {
        var widths = _columns.Select((column, i) => Math.Max(column.Header.Length, _rows.Count == 0 ? 0 : _rows.Max(r => r[i].Text.Length))).ToArray();
        string Line(IReadOnlyList<string> cells)
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
            return line.ToString().TrimEnd();
        }
        var lines = new List<string>(_rows.Count + 2);
        if (Headers)
        {
            lines.Add(Line(_columns.Select(c => c.Header).ToArray()));
        }
        lines.AddRange(_rows.Select(row => Line(row.Select(c => c.Text).ToArray())));
        if (Caption is not null)
        {
            lines.Add(Caption);
        }
        return lines;
    }

    private Table Table(IEnumerable<Cell[]> rows, bool headers, bool caption, int[]? widths)
    {
        var table = new Table().Border(widths is null ? TableBorder.Simple : TableBorder.None);
        for (var i = 0; i < _columns.Count; i++)
        {
            var (header, figure) = _columns[i];
            var column = figure ? new TableColumn(header).NoWrap().RightAligned() : new TableColumn(header);
            table.AddColumn(widths is null ? column : column.Width(widths[i]));
        }
        foreach (var row in rows)
        {
            table.AddRow(row.Select(cell => cell.Style is null ? Markup.Escape(cell.Text) : $"[{cell.Style}]{Markup.Escape(cell.Text)}[/]").ToArray());
        }
        if (!headers)
        {
            table.HideHeaders();
        }
        if (caption && Caption is not null)
        {
            table.Caption($"[dim]{Markup.Escape(Caption)}[/]");
        }
        return table;
    }

    // The widths every part of a long table shares: each column as wide as its widest cell, the widest text columns
    // narrowed (they wrap) until the table fits. Without a border a cell has padding of one on each side.
    private int[] Widths(int consoleWidth)
    {
        var widths = _columns.Select((column, i) => Math.Max(column.Header.Length, _rows.Max(r => r[i].Text.Length))).ToArray();
        var available = consoleWidth - 2 * _columns.Count;
        while (widths.Sum() > available)
        {
            var widest = Enumerable.Range(0, _columns.Count).Where(i => !_columns[i].Figure && widths[i] > 8).OrderByDescending(i => widths[i]).FirstOrDefault(-1);
            if (widest < 0)
            {
                break;
            }
            widths[widest] = Math.Max(8, widths[widest] - (widths.Sum() - available));
        }
        return widths;
    }

    /// <summary>One cell: its text and, on a terminal, a Spectre style (<c>bold</c>, <c>dim</c> …).</summary>
    /// <param name="Text">The text (plain, not markup).</param>
    /// <param name="Style">The style on a terminal, or null.</param>
    public sealed record Cell(string Text, string? Style = null);
}
