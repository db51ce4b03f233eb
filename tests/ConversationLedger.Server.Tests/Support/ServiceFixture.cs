using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using ConversationLedger.Emulator;
using ConversationLedger.Server.State;
using Npgsql;

namespace ConversationLedger.Server.Tests.Support;

/// <summary>Where a test service keeps its ledger and tables.</summary>
public enum Database
{
    /// <summary>A fresh SQLite file.</summary>
    Sqlite,
    /// <summary>A fresh PostgreSQL database on the test server.</summary>
    Postgres,
}

/// <summary>
/// A running service (one or more instances on one database), the emulator it talks to (in this process, so tests can script
/// replies and inject faults), and two tenants with keys: <c>acme</c> and <c>globex</c>.
/// </summary>
public sealed class ServiceFixture : IAsyncDisposable
{
    private readonly string? _sqliteFolder;
    private readonly string? _postgresDatabase;
    private IReadOnlyDictionary<string, string> _settings = new Dictionary<string, string>();

    private ServiceFixture(EmulatorServer emulator, string store, ServiceState state, string? sqliteFolder, string? postgresDatabase)
    {
        Emulator = emulator;
        Store = store;
        State = state;
        _sqliteFolder = sqliteFolder;
        _postgresDatabase = postgresDatabase;
    }

    /// <summary>The emulator the instances call.</summary>
    public EmulatorServer Emulator { get; }

    /// <summary>The store setting the instances got.</summary>
    public string Store { get; }

    /// <summary>The service's tables, as the tests see them.</summary>
    public ServiceState State { get; }

    /// <summary>The running instances.</summary>
    public List<ServerProcess> Instances { get; } = [];

    /// <summary>The first instance.</summary>
    public ServerProcess Server => Instances[0];

    /// <summary>Tenant acme's key.</summary>
    public string AcmeKey { get; private set; } = "";

    /// <summary>Tenant globex's key.</summary>
    public string GlobexKey { get; private set; } = "";

    /// <summary>Starts <paramref name="instances"/> instances on a fresh database of the given kind.</summary>
    public static async Task<ServiceFixture> StartAsync(Database database, int instances = 1, IReadOnlyDictionary<string, string>? settings = null)
    {
        var emulator = new EmulatorServer();
        await emulator.StartAsync();
        ServiceFixture fixture;
        if (database == Database.Sqlite)
        {
            var folder = Directory.CreateTempSubdirectory("ledger-service-").FullName;
            var path = Path.Combine(folder, "ledger.db");
            fixture = new ServiceFixture(emulator, "sqlite:" + path, ServiceState.Sqlite(path), folder, null);
        }
        else
        {
            var admin = await Servers.PostgresAsync();
            var name = "ledger_service_" + Guid.NewGuid().ToString("N")[..12];
            await using (var create = admin.CreateCommand($"CREATE DATABASE {name}"))
            {
                await create.ExecuteNonQueryAsync();
            }
            var connection = new NpgsqlConnectionStringBuilder(Servers.Postgres) { Database = name }.ConnectionString;
            fixture = new ServiceFixture(emulator, "postgres:" + connection, ServiceState.Postgres(connection), null, name);
        }
        await fixture.State.EnsureSchemaAsync();
        fixture.AcmeKey = (await fixture.State.CreateKeyAsync("acme", "tests")).Secret;
        fixture.GlobexKey = (await fixture.State.CreateKeyAsync("globex", "tests")).Secret;
        fixture._settings = settings ?? new Dictionary<string, string>();
        for (var i = 0; i < instances; i++)
        {
            await fixture.AddInstanceAsync();
        }
        return fixture;
    }

    /// <summary>Starts one more instance on the same database, with the fixture's settings and <paramref name="settings"/> on top.</summary>
    public async Task<ServerProcess> AddInstanceAsync(IReadOnlyDictionary<string, string>? settings = null)
    {
        var all = new Dictionary<string, string>
        {
            ["Server:Store"] = Store,
            ["Server:ModelApi"] = "emulator:" + Emulator.BaseUrl,
            ["ConversationLedger:Model"] = "claude-opus-4-1",
        };
        foreach (var (name, value) in _settings.Concat(settings ?? new Dictionary<string, string>()))
        {
            all[name] = value;
        }
        var server = await ServerProcess.StartAsync(all);
        Instances.Add(server);
        return server;
    }

    /// <summary>A client of <paramref name="instance"/> (0: the first) with <paramref name="key"/> (null: no credentials).</summary>
    public ServiceClient Client(string? key, int instance = 0) => new(Instances[instance].Url, key);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var instance in Instances)
        {
            await instance.DisposeAsync();
        }
        await State.DisposeAsync();
        await Emulator.DisposeAsync();
        if (_sqliteFolder is not null)
        {
            Directory.Delete(_sqliteFolder, recursive: true);
        }
        if (_postgresDatabase is not null)
        {
            NpgsqlConnection.ClearAllPools();
            var admin = await Servers.PostgresAsync();
            await using var drop = admin.CreateCommand($"DROP DATABASE IF EXISTS {_postgresDatabase} WITH (FORCE)");
            await drop.ExecuteNonQueryAsync();
        }
    }
}

/// <summary>A reply: its status, its JSON body (undefined when it has none) and the response.</summary>
public sealed record Reply(int Status, JsonElement Json, HttpResponseMessage Response)
{
    /// <summary>The problem type's name (after the prefix), for error replies.</summary>
    public string? Problem => Json.ValueKind == JsonValueKind.Object && Json.TryGetProperty("type", out var t) && t.GetString() is { } type
        ? type.Replace("urn:conversation-ledger:problem:", "", StringComparison.Ordinal)
        : null;

    /// <summary>A string property.</summary>
    public string? this[string name] => Json.TryGetProperty(name, out var v) ? v.ToString() : null;
}

/// <summary>An HTTP client of the service with one tenant's key.</summary>
public sealed class ServiceClient(Uri baseUrl, string? key) : IDisposable
{
    /// <summary>The underlying client (for streams).</summary>
    public HttpClient Http { get; } = Create(baseUrl, key);

    /// <summary>Sends a request with a JSON body (a string is sent as it is) and reads the reply.</summary>
    public async Task<Reply> SendAsync(HttpMethod method, string path, object? body = null, IDictionary<string, string>? headers = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            var text = body as string ?? JsonSerializer.Serialize(body);
            request.Content = new StringContent(text, Encoding.UTF8, "application/json");
        }
        foreach (var (name, value) in headers ?? new Dictionary<string, string>())
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }
        var response = await Http.SendAsync(request);
        var bytes = await response.Content.ReadAsByteArrayAsync();
        var json = bytes.Length > 0 && response.Content.Headers.ContentType?.MediaType?.Contains("json", StringComparison.Ordinal) == true
            ? JsonDocument.Parse(bytes).RootElement.Clone()
            : default;
        return new Reply((int)response.StatusCode, json, response);
    }

    /// <summary>GET.</summary>
    public Task<Reply> GetAsync(string path) => SendAsync(HttpMethod.Get, path);

    /// <summary>POST.</summary>
    public Task<Reply> PostAsync(string path, object? body = null, IDictionary<string, string>? headers = null) => SendAsync(HttpMethod.Post, path, body ?? new { }, headers);

    /// <summary>Creates a thread and returns its path.</summary>
    public async Task<string> CreateThreadAsync(string scope, string id, object? extra = null)
    {
        var body = new Dictionary<string, object?> { ["scope"] = scope, ["id"] = id };
        if (extra is not null)
        {
            foreach (var p in JsonSerializer.SerializeToElement(extra).EnumerateObject())
            {
                body[p.Name] = p.Value;
            }
        }
        var reply = await PostAsync("/v1/threads", body);
        Assert.True(reply.Status == 201, $"create thread: {reply.Status} {reply.Json}");
        return reply["path"]!;
    }

    /// <summary>Sends a JSON turn and returns the reply.</summary>
    public Task<Reply> TurnAsync(string threadPath, string text, object? extra = null, IDictionary<string, string>? headers = null)
    {
        var body = new Dictionary<string, object?> { ["content"] = text };
        if (extra is not null)
        {
            foreach (var p in JsonSerializer.SerializeToElement(extra).EnumerateObject())
            {
                body[p.Name] = p.Value;
            }
        }
        return PostAsync(threadPath + "/turns", body, headers);
    }

    /// <summary>
    /// Asserts that nothing of a turn was stored after entry <paramref name="since"/>: no messages; a call that was billed anyway
    /// is there only as a usage entry marked uncommitted (the usage log holds every billed call).
    /// </summary>
    public async Task AssertNoTurnStoredAsync(string threadPath, long since = 0)
    {
        var entries = (await GetAsync($"{threadPath}/entries?after={since}&limit=1000")).Json.GetProperty("data").EnumerateArray().ToArray();
        Assert.All(entries, e =>
        {
            Assert.Equal("usage", e.GetProperty("kind").GetString());
            Assert.True(e.GetProperty("payload").TryGetProperty("uncommitted", out _), e.ToString());
        });
        var usage = await GetAsync(threadPath + "/usage");
        Assert.Equal(entries.Length, usage.Json.GetProperty("calls").EnumerateArray().Count(c => c.GetProperty("kind").GetString() == "uncommitted"
            && c.GetProperty("sequence").GetInt64() > since));
    }

    /// <inheritdoc />
    public void Dispose() => Http.Dispose();

    private static HttpClient Create(Uri baseUrl, string? key)
    {
        // No draining: a response disposed before its end closes the connection, as a client that goes away does.
        var http = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = baseUrl, Timeout = TimeSpan.FromSeconds(60) };
        if (key is not null)
        {
            http.DefaultRequestHeaders.Add("x-api-key", key);
        }
        http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        return http;
    }
}
