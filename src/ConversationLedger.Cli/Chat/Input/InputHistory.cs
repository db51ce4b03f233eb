using System.Text.Json;

namespace ConversationLedger.Cli.Chat.Input;

/// <summary>
/// What was typed at a thread's prompt, newest last, recalled with Up/Down. Kept in a file per thread (one JSON string a
/// line, so multi-line messages fit on one), readable only by the user, capped at <see cref="MaxEntries"/>; without a
/// file it lives in memory only. A file that cannot be read or written costs the history, never the chat.
/// </summary>
public sealed class InputHistory
{
    /// <summary>The most entries kept.</summary>
    public const int MaxEntries = 1000;

    private readonly List<string> _entries = [];
    private string? _path;

    /// <summary>A history in memory only.</summary>
    public InputHistory()
    {
    }

    /// <summary>A history kept in <paramref name="path"/> (created on the first entry).</summary>
    public InputHistory(string? path)
    {
        Switch(path);
    }

    /// <summary>The file, or null.</summary>
    public string? Path => _path;

    /// <summary>The entries, oldest first.</summary>
    public IReadOnlyList<string> Entries => _entries;

    /// <summary>Moves to another file (a /fork): what is in memory stays, new entries go to the new file.</summary>
    public void Switch(string? path)
    {
        _path = path;
        if (path is null || !File.Exists(path))
        {
            return;
        }
        try
        {
            var loaded = new List<string>();
            foreach (var line in File.ReadLines(path))
            {
                if (line.Length > 0 && JsonSerializer.Deserialize(line, HistoryJson.Default.String) is { Length: > 0 } entry)
                {
                    loaded.Add(entry);
                }
            }
            // The file's entries come before what was typed in this chat (a /fork keeps the original's).
            _entries.InsertRange(0, loaded);
            Trim();
            if (loaded.Count > MaxEntries * 2)
            {
                // Appends only grow the file; rewrite it now and then.
                Rewrite();
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException)
        {
            // An unreadable history is no reason to refuse the chat.
        }
    }

    /// <summary>Adds an entry (not when it repeats the newest) and appends it to the file.</summary>
    public void Add(string entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (entry.Length == 0 || (_entries.Count > 0 && _entries[^1] == entry))
        {
            return;
        }
        _entries.Add(entry);
        Trim();
        if (_path is null)
        {
            return;
        }
        try
        {
            EnsureFolder();
            var line = JsonSerializer.Serialize(entry, HistoryJson.Default.String) + "\n";
            var created = !File.Exists(_path);
            File.AppendAllText(_path, line);
            if (created && !OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(_path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A read-only disk loses the history, not the chat.
        }
    }

    private void Trim()
    {
        if (_entries.Count > MaxEntries)
        {
            _entries.RemoveRange(0, _entries.Count - MaxEntries);
        }
    }

    private void Rewrite()
    {
        EnsureFolder();
        var temp = _path + ".new";
        File.WriteAllLines(temp, _entries.Select(e => JsonSerializer.Serialize(e, HistoryJson.Default.String)));
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        File.Move(temp, _path!, overwrite: true);
    }

    private void EnsureFolder()
    {
        var folder = System.IO.Path.GetDirectoryName(_path!)!;
        if (!Directory.Exists(folder))
        {
            if (OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(folder);
            }
            else
            {
                Directory.CreateDirectory(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
        }
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(string))]
internal sealed partial class HistoryJson : System.Text.Json.Serialization.JsonSerializerContext;
