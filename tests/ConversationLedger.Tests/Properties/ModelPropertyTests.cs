using ConversationLedger.Storage;
using FsCheck;
using FsCheck.Xunit;

namespace ConversationLedger.Tests.Properties;

public sealed class ModelPropertyTests
{
    [Property(MaxTest = 100)]
    public bool Any_message_survives_the_entry_codec_block_for_block(NonNull<string> text, bool fromUser)
    {
        var message = fromUser ? Message.User(text.Get) : Message.Assistant(text.Get);
        var entry = new MessageEntry(message) { Sequence = 1 };

        var decoded = (MessageEntry)EntryCodec.Decode("message", EntryCodec.EncodePayload(entry), 1, default, null, 0, 0, 0);

        return decoded.Message.Equals(message) && decoded.Message.Content[0].Json == message.Content[0].Json;
    }

    [Property(MaxTest = 100)]
    public bool A_strictly_alternating_history_breaks_strict_mode_when_any_one_role_is_flipped(PositiveInt turns, int pick)
    {
        var count = Math.Min(turns.Get, 20) * 2;
        var messages = Enumerable.Range(0, count)
            .Select(i => i % 2 == 0 ? Message.User($"q{i}") : Message.Assistant($"a{i}"))
            .ToArray();
        var valid = ConversationValidator.Validate(messages, ValidationOptions.StrictHistory).Count == 0;

        var flipped = (int)((uint)pick % (uint)count);
        messages[flipped] = messages[flipped].Role == Role.User ? Message.Assistant("x") : Message.User("x");
        var broken = ConversationValidator.Validate(messages, ValidationOptions.StrictHistory);

        return valid && broken.Count > 0
            && broken.All(v => v.Rule is ValidationRule.RolesNotAlternating or ValidationRule.FirstMessageNotUser)
            && broken.Any(v => v.MessageIndex == flipped || v.MessageIndex == flipped + 1);
    }
}
