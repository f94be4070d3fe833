// The official `openai` npm client against a running `mixserve serve` (run_openai_client_test.sh starts it):
// completions, chat, streaming with usage, n = 2, stop strings and logprobs; shapes and content are checked.
// The model is the synthetic tiny checkpoint (random weights), so the checks are about consistency: greedy
// answers repeat, streamed text equals the whole answer, stop strings cut where they first appear, token
// counts agree with /tokenize, the chosen greedy token is the most likely one.
//
//   MIXSERVE_URL=http://127.0.0.1:8000 MIXSERVE_MODEL=tiny NODE_TEST_DEPS=dir node openai_client_test.mjs
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const require = createRequire(`${process.env.NODE_TEST_DEPS}/package.json`);
const openaiModule = require('openai');
const OpenAI = openaiModule.OpenAI ?? openaiModule.default ?? openaiModule;

const baseURL = process.env.MIXSERVE_URL;
const model = process.env.MIXSERVE_MODEL;
const client = new OpenAI({ baseURL: `${baseURL}/v1`, apiKey: 'unused', timeout: 60_000, maxRetries: 0 });

const results = [];
async function check(name, fn) {
  const started = Date.now();
  try {
    await fn();
    results.push({ name, ok: true });
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (error) {
    results.push({ name, ok: false });
    console.log(`FAIL ${name}: ${error.stack ?? error}`);
  }
}

async function tokenCount(body) {
  const response = await fetch(`${baseURL}/tokenize`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, ...body }),
    signal: AbortSignal.timeout(30_000),
  });
  assert.equal(response.status, 200);
  const json = await response.json();
  assert.equal(json.tokens.length, json.count);
  return json.count;
}

async function collect(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

function assertLogprob(value) {
  assert.equal(typeof value, 'number');
  assert.ok(value <= 1e-6, `logprob ${value} > 0`);
}

// A short piece of `text` to use as a stop string: two code points from its middle, no U+FFFD.
function stopStringOf(text) {
  const points = [...text];
  for (let k = Math.floor(points.length / 2); k + 2 <= points.length; ++k) {
    const candidate = points.slice(k, k + 2).join('');
    if (!candidate.includes('\uFFFD') && candidate.trim().length > 0) return candidate;
  }
  return null;
}

const prompt = 'The capital of France is';
const messages = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Name three colours.' },
];
const nowSeconds = () => Math.floor(Date.now() / 1000);

await check('models.list names the served model', async () => {
  const page = await client.models.list();
  assert.equal(page.data.length, 1);
  assert.equal(page.data[0].id, model);
  assert.equal(page.data[0].object, 'model');
});

let greedyText = '';
await check('completions: shape, usage, greedy repeats', async () => {
  const request = { model, prompt, max_tokens: 16, temperature: 0, ignore_eos: true };
  const a = await client.completions.create(request);
  assert.equal(a.object, 'text_completion');
  assert.match(a.id, /^cmpl-/);
  assert.equal(a.model, model);
  assert.ok(Math.abs(a.created - nowSeconds()) < 300);
  assert.equal(a.choices.length, 1);
  assert.equal(a.choices[0].index, 0);
  assert.equal(typeof a.choices[0].text, 'string');
  assert.ok(a.choices[0].text.length > 0, 'empty text');
  assert.equal(a.choices[0].finish_reason, 'length');
  assert.equal(a.usage.completion_tokens, 16);
  assert.equal(a.usage.prompt_tokens, await tokenCount({ prompt }));
  assert.equal(a.usage.total_tokens, a.usage.prompt_tokens + a.usage.completion_tokens);
  const b = await client.completions.create(request);
  assert.equal(b.choices[0].text, a.choices[0].text);
  greedyText = a.choices[0].text;
});

let chatText = '';
await check('chat: shape, usage from the chat template', async () => {
  const r = await client.chat.completions.create({ model, messages, max_tokens: 8, temperature: 0, ignore_eos: true });
  assert.equal(r.object, 'chat.completion');
  assert.match(r.id, /^chatcmpl-/);
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.equal(typeof r.choices[0].message.content, 'string');
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.equal(r.usage.completion_tokens, 8);
  assert.equal(r.usage.prompt_tokens, await tokenCount({ messages, add_generation_prompt: true }));
  chatText = r.choices[0].message.content;
});

await check('chat streaming with include_usage equals the whole answer', async () => {
  const chunks = await collect(await client.chat.completions.create({
    model, messages, max_tokens: 8, temperature: 0, ignore_eos: true, stream: true,
    stream_options: { include_usage: true },
  }));
  assert.ok(chunks.length >= 3);
  const last = chunks.at(-1);
  assert.deepEqual(last.choices, []);
  assert.equal(last.usage.completion_tokens, 8);
  assert.equal(last.usage.total_tokens, last.usage.prompt_tokens + 8);
  let text = '';
  let finishes = 0;
  for (const chunk of chunks.slice(0, -1)) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    assert.equal(chunk.usage, null);
    assert.equal(chunk.choices.length, 1);
    text += chunk.choices[0].delta.content ?? '';
    if (chunk.choices[0].finish_reason) ++finishes;
  }
  assert.equal(chunks[0].choices[0].delta.role, 'assistant');
  assert.equal(finishes, 1);
  assert.equal(text, chatText);
});

await check('completions streaming without include_usage carries no usage', async () => {
  const chunks = await collect(await client.completions.create({
    model, prompt, max_tokens: 16, temperature: 0, ignore_eos: true, stream: true,
  }));
  assert.equal(chunks.map((c) => c.choices[0].text).join(''), greedyText);
  for (const chunk of chunks) assert.ok(chunk.usage === undefined || chunk.usage === null);
  assert.equal(chunks.at(-1).choices[0].finish_reason, 'length');
});

await check('n = 2 with a seed: two different choices, reproducible', async () => {
  const request = { model, prompt, n: 2, max_tokens: 8, temperature: 1.0, seed: 1234, ignore_eos: true };
  const a = await client.completions.create(request);
  assert.deepEqual(a.choices.map((c) => c.index), [0, 1]);
  assert.equal(a.usage.completion_tokens, 16);
  assert.notEqual(a.choices[0].text, a.choices[1].text);
  const b = await client.completions.create(request);
  assert.deepEqual(b.choices.map((c) => c.text), a.choices.map((c) => c.text));
  const chat = await client.chat.completions.create({ model, messages, n: 2, max_tokens: 4, seed: 5, ignore_eos: true });
  assert.deepEqual(chat.choices.map((c) => c.index), [0, 1]);
});

await check('stop string cuts the text where it first appears', async () => {
  const stop = stopStringOf(greedyText);
  assert.ok(stop, `no usable stop string in ${JSON.stringify(greedyText)}`);
  const expected = greedyText.slice(0, greedyText.indexOf(stop));
  const request = { model, prompt, max_tokens: 16, temperature: 0, ignore_eos: true, stop: [stop] };
  const r = await client.completions.create(request);
  assert.equal(r.choices[0].text, expected);
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.ok(r.usage.completion_tokens < 16);
  const chunks = await collect(await client.completions.create({ ...request, stream: true }));
  const pieces = chunks.map((c) => c.choices[0].text);
  assert.equal(pieces.join(''), expected);
  for (const piece of pieces) assert.ok(!piece.includes(stop));
  assert.equal(chunks.at(-1).choices[0].finish_reason, 'stop');
});

await check('completions logprobs: tokens, top alternatives, greedy is the best', async () => {
  const r = await client.completions.create({ model, prompt, max_tokens: 6, temperature: 0, logprobs: 3, ignore_eos: true });
  const lp = r.choices[0].logprobs;
  assert.equal(lp.tokens.length, 6);
  assert.equal(lp.token_logprobs.length, 6);
  assert.equal(lp.top_logprobs.length, 6);
  assert.equal(lp.text_offset.length, 6);
  for (let i = 0; i < 6; ++i) {
    assertLogprob(lp.token_logprobs[i]);
    const alternatives = Object.values(lp.top_logprobs[i]);
    assert.ok(alternatives.length >= 1 && alternatives.length <= 3);
    alternatives.forEach(assertLogprob);
    assert.ok(Math.abs(Math.max(...alternatives) - lp.token_logprobs[i]) < 1e-4, 'greedy token is not the best');
    if (i > 0) assert.ok(lp.text_offset[i] >= lp.text_offset[i - 1]);
  }
});

await check('chat logprobs with top_logprobs', async () => {
  const r = await client.chat.completions.create({
    model, messages, max_tokens: 5, temperature: 0, logprobs: true, top_logprobs: 2, ignore_eos: true,
  });
  const content = r.choices[0].logprobs.content;
  assert.equal(content.length, r.usage.completion_tokens);
  for (const t of content) {
    assert.equal(typeof t.token, 'string');
    assertLogprob(t.logprob);
    assert.ok(Array.isArray(t.bytes) && t.bytes.every((b) => Number.isInteger(b) && b >= 0 && b < 256));
    assert.equal(t.top_logprobs.length, 2);
    assert.ok(t.top_logprobs[0].logprob >= t.top_logprobs[1].logprob);
    assert.ok(Math.abs(t.top_logprobs[0].logprob - t.logprob) < 1e-4);
  }
});

await check('errors: unknown model 404, bad values 400', async () => {
  const status = async (request) => {
    try {
      await client.completions.create(request);
      return 200;
    } catch (error) {
      assert.ok(error.error?.message || error.message);
      return error.status;
    }
  };
  assert.equal(await status({ model: 'no-such-model', prompt }), 404);
  assert.equal(await status({ model, prompt, temperature: 5 }), 400);
  assert.equal(await status({ model, prompt, max_tokens: -1 }), 400);
});

const failed = results.filter((r) => !r.ok);
console.log(`${results.length - failed.length}/${results.length} passed`);
process.exit(failed.length === 0 ? 0 : 1);
