using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;

namespace ConversationLedger.Emulator.Tests;

/// <summary>The runnable emulator: its one line of output, its options, and Ctrl+C.</summary>
public sealed class ProgramTests
{
    [Fact]
    public async Task The_runnable_emulator_prints_its_address_serves_a_model_table_from_a_file_and_stops_on_ctrl_c()
    {
        var models = Path.GetTempFileName();
        await File.WriteAllTextAsync(models, """{"models":[{"id":"file-model","contextWindow":1000,"maxOutput":50}]}""");
        var dll = Path.Combine(AppContext.BaseDirectory, "ConversationLedger.Emulator.dll");
        using var process = Process.Start(new ProcessStartInfo("dotnet", [dll, "--port", "0", "--models", models, "--max-logged-requests", "1"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        try
        {
            var line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(20));
            var match = Regex.Match(line ?? "", @"^listening on (http://127\.0\.0\.1:(\d+))$");
            Assert.True(match.Success, $"unexpected first line: {line}");
            using var http = new HttpClient { BaseAddress = new Uri(match.Groups[1].Value) };

            using var health = await http.GetAsync("/health");
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/messages")
            {
                Content = new StringContent("""{"model":"file-model","max_tokens":60,"messages":[{"role":"user","content":"Hi"}]}""", Encoding.UTF8, "application/json"),
            };
            request.Headers.Add("x-api-key", "k");
            request.Headers.Add("anthropic-version", "2023-06-01");
            using var tooMany = await http.SendAsync(request);
            using var unauthenticated = await http.PostAsync("/v1/messages", new StringContent("second"));
            using var log = await http.GetAsync("/_emulator/requests");

            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
            Assert.Contains("maximum allowed number of output tokens for file-model", await tooMany.Content.ReadAsStringAsync());
            // --max-logged-requests 1 keeps the newest request only.
            using var kept = System.Text.Json.JsonDocument.Parse(await log.Content.ReadAsStringAsync());
            Assert.Equal("second", Assert.Single(kept.RootElement.EnumerateArray()).GetProperty("body").GetString());

            // Ctrl+C is SIGINT; the emulator stops serving and exits cleanly.
            using (var interrupt = Process.Start("kill", ["-INT", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await interrupt.WaitForExitAsync();
            }
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(0, process.ExitCode);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
            }
            File.Delete(models);
        }
    }
}

public sealed class EmulatorServerTests
{
    [Fact]
    public async Task The_base_url_is_known_only_after_start_and_a_server_starts_once()
    {
        await using var server = new EmulatorServer();

        Assert.Throws<InvalidOperationException>(() => server.BaseUrl);
        var url = await server.StartAsync();

        Assert.Matches(@"^http://127\.0\.0\.1:\d+$", url);
        Assert.Equal(url, server.BaseUrl);
        await Assert.ThrowsAsync<InvalidOperationException>(() => server.StartAsync());
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>("port", () => new EmulatorServer().StartAsync(-1));
    }

    [Fact]
    public async Task A_port_in_use_fails_to_start()
    {
        await using var first = new EmulatorServer();
        var port = new Uri(await first.StartAsync()).Port;
        await using var second = new EmulatorServer();

        await Assert.ThrowsAnyAsync<IOException>(() => second.StartAsync(port));
    }
}
