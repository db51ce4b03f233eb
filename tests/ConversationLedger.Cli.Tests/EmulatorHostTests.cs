using ConversationLedger.Cli.Hosting;
using ConversationLedger.Emulator;

namespace ConversationLedger.Cli.Tests;

public sealed class EmulatorHostTests
{
    [Fact]
    public async Task The_in_process_emulator_answers_every_turn_and_keeps_none_of_their_requests()
    {
        // Nothing reads its request log, so a long chat must not grow one.
        await using var connection = await EmulatorHost.StartAsync(_ => null);
        var emulator = Assert.IsType<EmulatorServer>(connection.Owned);
        var request = new ModelRequest { Model = "claude-sonnet-5-5", MaxTokens = 50, Messages = [Message.User("hello")] };

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal("end_turn", (await connection.Client.SendAsync(request)).StopReason);
        }

        Assert.Equal(0, emulator.Requests.Count);
        Assert.Equal(3, emulator.Requests.Received);
    }
}
