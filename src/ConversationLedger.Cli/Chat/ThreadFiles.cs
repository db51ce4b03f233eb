using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using ConversationLedger.Cli.Hosting;

namespace ConversationLedger.Cli.Chat;

/// <summary>
/// What the chat keeps per thread outside the ledger: the prompt's input history and the chat settings to resume with
/// (the policy and model last chosen). Beside a SQLite database (<c>ledger.db.chat/TENANT/SCOPE/THREAD.*</c>);
/// for a server store under the data directory, one folder per server; nothing for a store in memory.
/// </summary>
/// <param name="Base">The path the files share, without their endings; null when nothing is kept.</param>
public sealed record ThreadFiles(string? Base)
{
    /// <summary>The input history (one JSON string a line), or null.</summary>
    public string? History => Base is null ? null : Base + ".history.jsonl";

    /// <summary>The remembered chat settings (JSON), or null.</summary>
    public string? Settings => Base is null ? null : Base + ".settings.json";

    /// <summary>The files of a thread.</summary>
    /// <param name="store">The store the chat uses.</param>
    /// <param name="environment">For the data directory ($XDG_DATA_HOME/ledger, else ~/.local/share/ledger).</param>
    /// <param name="key">The thread.</param>
    public static ThreadFiles For(StoreLocation store, Func<string, string?> environment, ThreadKey key)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(environment);
        ArgumentNullException.ThrowIfNull(key);
        string root;
        switch (store.Kind)
        {
            case StoreKind.Memory:
                return new ThreadFiles((string?)null);
            case StoreKind.Sqlite when !store.Target.Contains('=', StringComparison.Ordinal) && store.Target != ":memory:":
                root = Path.GetFullPath(store.Target) + ".chat";
                break;
            case StoreKind.Sqlite:
                return new ThreadFiles((string?)null);
            default:
                // One folder per server: a hash of its connection string (which may hold a password), never the string.
                var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(store.Kind + ":" + store.Target)))[..16];
                var data = Path.GetDirectoryName(CliDefaults.DefaultDatabasePath(environment))!;
                root = Path.Combine(data, "chat", store.Kind.ToString().ToLowerInvariant() + "-" + hash);
                break;
        }
        return new ThreadFiles(Path.Combine(root, FileName(key.Tenant), FileName(key.Scope), FileName(key.ThreadId)));
    }

    /// <summary>The remembered settings, or empty ones when there are none (or they cannot be read).</summary>
    public ChatSettingsFile ReadSettings()
    {
        try
        {
            return Settings is { } path && File.Exists(path)
                ? JsonSerializer.Deserialize(File.ReadAllText(path), ThreadFilesJson.Default.ChatSettingsFile) ?? new ChatSettingsFile()
                : new ChatSettingsFile();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException)
        {
            return new ChatSettingsFile();
        }
    }

    /// <summary>Remembers <paramref name="settings"/>; a disk that refuses costs the memory, never the chat.</summary>
    public void WriteSettings(ChatSettingsFile settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (Settings is not { } path)
        {
            return;
        }
        try
        {
            var folder = Path.GetDirectoryName(path)!;
            if (OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(folder);
            }
            else
            {
                Directory.CreateDirectory(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
            var temp = path + ".new";
            File.WriteAllText(temp, JsonSerializer.Serialize(settings, ThreadFilesJson.Default.ChatSettingsFile));
            File.Move(temp, path, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Not remembered; the chat goes on.
        }
    }

    /// <summary>Removes the thread's files (when its thread is deleted); a file that cannot be removed is left.</summary>
    public void Delete()
    {
        foreach (var path in new[] { History, Settings })
        {
            try
            {
                if (path is not null && File.Exists(path))
                {
                    File.Delete(path);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // The thread itself is gone; a leftover file only costs disk space.
            }
        }
    }

    // Ids may hold any character but controls: letters, digits, - and _ stay, everything else is %XX of its UTF-8 bytes,
    // and a long id keeps a readable start and a hash, so every name is a valid, distinct file name.
    private static string FileName(string id)
    {
        var name = new StringBuilder();
        foreach (var b in Encoding.UTF8.GetBytes(id))
        {
            if (b is (>= (byte)'a' and <= (byte)'z') or (>= (byte)'A' and <= (byte)'Z') or (>= (byte)'0' and <= (byte)'9') or (byte)'-' or (byte)'_')
            {
                name.Append((char)b);
            }
            else
            {
                name.Append('%').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
        }
        return name.Length <= 120
            ? name.ToString()
            : name.ToString(0, 80) + "-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(id)))[..32];
    }
}

/// <summary>The chat settings remembered for a thread.</summary>
public sealed record ChatSettingsFile
{
    /// <summary>The history policy last chosen with /policy or --policy, as written.</summary>
    [JsonPropertyName("policy")]
    public string? Policy { get; init; }

    /// <summary>The model last chosen with /model or --model.</summary>
    [JsonPropertyName("model")]
    public string? Model { get; init; }
}

[JsonSerializable(typeof(ChatSettingsFile))]
[JsonSourceGenerationOptions(WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
internal sealed partial class ThreadFilesJson : JsonSerializerContext;
