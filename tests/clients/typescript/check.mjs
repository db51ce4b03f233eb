// Drives the emulator with the official TypeScript SDK the way applications use it today: adaptive thinking with its
// display omitted and an effort, a streamed reply, a tool loop that sends the thinking back, a mid-conversation system
// message, count_tokens, and the errors a client must be able to read. Exits non-zero on the first broken expectation.
// Usage: ANTHROPIC_BASE_URL=http://127.0.0.1:PORT node check.mjs
import Anthropic from '@anthropic-ai/sdk';
import assert from 'node:assert/strict';

const client = new Anthropic({ apiKey: 'client-check', baseURL: process.env.ANTHROPIC_BASE_URL, maxRetries: 0 });
const model = 'claude-sonnet-5-5';
const tools = [{ name: 'read_file', description: 'Reads a file', input_schema: { type: 'object', properties: { path: { type: 'string' } } } }];
const thinking = { type: 'adaptive', display: 'omitted' };
const output_config = { effort: 'high' };
const checks = [];
const check = async (name, run) => { await run(); checks.push(name); console.log(`ok  ${name}`); };

await check('adaptive thinking with display omitted returns a signed, empty thinking block', async () => {
  const reply = await client.messages.create({ model, max_tokens: 2000, thinking, output_config, messages: [{ role: 'user', content: 'Hello' }] });
  assert.equal(reply.content[0].type, 'thinking');
  assert.equal(reply.content[0].thinking, '');
  assert.ok(reply.content[0].signature.length > 0);
  assert.equal(reply.content.at(-1).type, 'text');
  assert.ok(reply.usage.input_tokens > 0);
});

await check('a streamed reply assembles into the same shape, with text deltas', async () => {
  const stream = client.messages.stream({ model, max_tokens: 2000, thinking, output_config, messages: [{ role: 'user', content: 'Stream to me' }] });
  let text = '';
  stream.on('text', (delta) => { text += delta; });
  const message = await stream.finalMessage();
  assert.equal(message.content[0].type, 'thinking');
  assert.equal(message.content.at(-1).text, text);
  assert.equal(message.stop_reason, 'end_turn');
});

await check('a tool loop sends each reply back with its thinking and a mid-conversation system message', async () => {
  // Sonnet 5.5 refuses forced tool use, so the emulator is scripted to call the tool (its own signed thinking comes first).
  const script = await fetch(`${process.env.ANTHROPIC_BASE_URL}/_emulator/script`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify([{ content: [{ type: 'tool_use', id: 'toolu_check_1', name: 'read_file', input: { path: 'README.md' } }] }]),
  });
  assert.ok(script.ok, `scripting the emulator failed: ${script.status} ${await script.text()}`);
  const messages = [{ role: 'user', content: 'What does the README say?' }];
  const call = await client.messages.create({ model, max_tokens: 2000, thinking, output_config, tools, messages });
  assert.equal(call.stop_reason, 'tool_use');
  const use = call.content.find((b) => b.type === 'tool_use');
  messages.push({ role: 'assistant', content: call.content });
  messages.push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: 'It says hello.' }] });
  messages.push({ role: 'system', content: 'Answer in one sentence.' });
  const answer = await client.messages.create({ model, max_tokens: 2000, thinking, output_config, tools, messages });
  assert.equal(answer.stop_reason, 'end_turn');
  // The thinking is bound to the prompt it answered: changing the question before it is refused, as the API refuses it.
  messages[0] = { role: 'user', content: 'What does the LICENSE say?' };
  await assert.rejects(client.messages.create({ model, max_tokens: 2000, thinking, tools, messages }),
    (error) => error instanceof Anthropic.BadRequestError && /signature/.test(error.message));
});

await check('count_tokens counts with the model tokenizer', async () => {
  const { input_tokens } = await client.messages.countTokens({ model, messages: [{ role: 'user', content: 'Count me' }] });
  assert.ok(input_tokens > 0);
});

await check('what the model refuses comes back as a typed 400 with the API wording', async () => {
  await assert.rejects(client.messages.create({ model, max_tokens: 2000, thinking: { type: 'enabled', budget_tokens: 1024 }, messages: [{ role: 'user', content: 'Hi' }] }),
    (error) => error instanceof Anthropic.BadRequestError && /thinking\.type\.enabled/.test(error.message));
  await assert.rejects(client.messages.create({ model, max_tokens: 100, tools, tool_choice: { type: 'any' }, messages: [{ role: 'user', content: 'Hi' }] }),
    (error) => error instanceof Anthropic.BadRequestError && /tool_choice/.test(error.message));
});

console.log(`${checks.length} client checks passed against ${process.env.ANTHROPIC_BASE_URL} with @anthropic-ai/sdk`);
