using System.Globalization;
using System.Runtime.InteropServices;
using ConversationLedger;
using ConversationLedger.Emulator;

// `dotnet run --project src/ConversationLedger.Emulator -- ` and these options:
const string Usage = "--port N [--models FILE] [--api-key KEY] [--max-logged-requests N] [--max-logged-bytes N]";
var port = 0;
string? modelsFile = null;
string? apiKey = null;
var defaults = new EmulatorOptions();
var logRequests = defaults.MaxLoggedRequests;
var logBytes = defaults.MaxLoggedBytes;
for (var i = 0; i < args.Length; i++)
{
    var value = i + 1 < args.Length ? args[i + 1] : null;
    switch (args[i])
    {
        case "--port" when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p <= 65535:
            port = p;
            i++;
            break;
        case "--models" when value is not null:
            modelsFile = value;
            i++;
            break;
        case "--api-key" when value is not null:
            apiKey = value;
            i++;
            break;
        case "--max-logged-requests" when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n):
            logRequests = n;
            i++;
            break;
        case "--max-logged-bytes" when long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var b):
            logBytes = b;
            i++;
            break;
        default:
            await Console.Error.WriteLineAsync($"unknown or incomplete option \"{args[i]}\"; usage: {Usage}");
            return 2;
    }
}

ModelCatalog models;
try
{
    models = modelsFile is null ? ModelCatalog.Default : LoadModels(modelsFile);
}
catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or LedgerException or System.Text.Json.JsonException or ArgumentException)
{
    await Console.Error.WriteLineAsync($"cannot load the model table {modelsFile}: {ex.Message}");
    return 2;
}

await using var server = new EmulatorServer(new EmulatorOptions
{
    Models = models,
    ApiKey = apiKey,
    MaxLoggedRequests = logRequests,
    MaxLoggedBytes = logBytes,
});
using var stop = new CancellationTokenSource();
// Ctrl+C (SIGINT) and SIGTERM stop serving; the registrations go before `stop` is disposed.
using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
var url = await server.StartAsync(port, stop.Token);
Console.WriteLine($"listening on {url}");
try
{
    await Task.Delay(Timeout.Infinite, stop.Token);
}
catch (OperationCanceledException)
{
    // Ctrl+C: stop serving.
}
return 0;

void Stop(PosixSignalContext context)
{
    context.Cancel = true;
    stop.Cancel();
}

static ModelCatalog LoadModels(string path)
{
    using var stream = File.OpenRead(path);
    return ModelCatalog.Load(stream);
}
