// The official `openai` JS SDK against streamtap's OpenAI-compatible routes
// (tests/server/test_openai_compat_js.py): node openai_client.mjs <server url> <token> <prefix>
// Prints one JSON document: what the client saw in each scenario.
import OpenAI, { APIError } from "openai";

const [url, token, prefix] = process.argv.slice(2);
const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: token, maxRetries: 0, timeout: 30000 });
const messages = [{ role: "user", content: "hi" }];
const tools = [
  {
    type: "function",
    function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } },
  },
  {
    type: "function",
    function: { name: "get_time", parameters: { type: "object", properties: { tz: { type: "string" } } } },
  },
];

async function collect(model, extra = {}) {
  const stream = await client.chat.completions.create({ model, messages, stream: true, ...extra });
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  const choices = chunks.filter((c) => c.choices.length);
  return {
    ids: [...new Set(chunks.map((c) => c.id))].length,
    objects: [...new Set(chunks.map((c) => c.object))],
    models: [...new Set(chunks.map((c) => c.model))],
    first_role: choices[0]?.choices[0].delta.role ?? null,
    content: choices.map((c) => c.choices[0].delta.content ?? "").join(""),
    deltas: choices.map((c) => c.choices[0].delta.content).filter((d) => d),
    reasoning: choices.map((c) => c.choices[0].delta.reasoning_content).filter((d) => d),
    tool_call_deltas: choices.filter((c) => c.choices[0].delta.tool_calls).length,
    finish: choices.map((c) => c.choices[0].finish_reason).filter((f) => f),
    usage: chunks.at(-1)?.usage ?? null,
  };
}

async function errorOf(fn) {
  try {
    await fn();
    return null;
  } catch (err) {
    return {
      api_error: err instanceof APIError,
      name: err.constructor.name,
      status: err.status ?? null,
      message: err.message,
      error: err.error ?? null,
    };
  }
}

const out = {};
out.text = await collect(`${prefix}_text`, { stream_options: { include_usage: true } });
const done = await client.chat.completions.create({ model: `${prefix}_text`, messages });
out.text_non_stream = {
  object: done.object,
  content: done.choices[0].message.content,
  finish: done.choices[0].finish_reason,
  usage: done.usage,
};
out.reasoning = await collect(`${prefix}_reasoning`);

// the SDK's own accumulator (ChatCompletionStream) assembles the streamed tool calls
const runner = client.chat.completions.stream({ model: `${prefix}_client_tools`, messages, tools });
const final = await runner.finalChatCompletion();
out.client_tools = {
  finish: final.choices[0].finish_reason,
  content: final.choices[0].message.content,
  tool_calls: final.choices[0].message.tool_calls.map((c) => [c.id, c.function.name, c.function.arguments]),
};
out.client_tools_stream = await collect(`${prefix}_client_tools`, { tools });
out.graph_tools = await collect(`${prefix}_graph_tools`);
out.interrupt = await collect(`${prefix}_approve`);

const received = [];
out.error = await errorOf(async () => {
  const stream = await client.chat.completions.create({ model: `${prefix}_fail`, messages, stream: true });
  for await (const chunk of stream) received.push(chunk.choices[0]?.delta.content ?? "");
});
out.error.received = received.join("");

// a client abort: the AbortController of the request, after four chunks
const controller = new AbortController();
let seen = 0;
const aborted = await errorOf(async () => {
  const stream = await client.chat.completions.create(
    { model: `${prefix}_slow`, messages, stream: true },
    { signal: controller.signal },
  );
  for await (const chunk of stream) {
    seen += 1;
    if (seen === 4) controller.abort();
  }
});
out.abort = { error: aborted, seen };

out.models = (await client.models.list()).data.map((m) => [m.id, m.object, m.owned_by]);
out.unknown_model = await errorOf(() => client.chat.completions.create({ model: "nope", messages }));
const wrong = new OpenAI({ baseURL: `${url}/v1`, apiKey: "wrong-token", maxRetries: 0 });
out.auth = await errorOf(() => wrong.chat.completions.create({ model: `${prefix}_text`, messages }));
process.stdout.write(JSON.stringify(out));
