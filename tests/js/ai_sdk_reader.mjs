// The `ai` package's own client against streamtap's AI SDK routes (tests/server/test_ai_sdk_js.py):
// DefaultChatTransport sends the chat request and parses the stream (its schema checks every
// part), readUIMessageStream folds the parts into the UI message a useChat would hold.
//   node ai_sdk_reader.mjs <base url> <graph id> <chat id> <scenario>
// scenarios: answer | approve | fail | abort (the client goes away, then resumes) | stop
// AI_PACKAGE picks the client: "ai" (7, the default), "ai6" or "ai5" (npm aliases of ai 6, 5).
// Prints one JSON document: {runs: [{chunks, message, error}], ...}.
const { DefaultChatTransport, readUIMessageStream } = await import(process.env.AI_PACKAGE ?? "ai");

const [url, graph, chatId, scenario] = process.argv.slice(2);
const transport = new DefaultChatTransport({ api: `${url}/ai-sdk/${graph}/chat` });
const user = { id: "u1", role: "user", parts: [{ type: "text", text: "hi" }] };

// reads a chunk stream to its end: every chunk, the last UI message state, the error if any;
// `onChunk(chunk, chunks)` may return true to stop reading (the caller aborts)
async function read(stream, onChunk) {
  const chunks = [];
  const errors = [];
  const [mine, theirs] = stream.tee();
  const messages = readUIMessageStream({
    stream: theirs,
    onError: (e) => errors.push(String(e?.message ?? e)),
  });
  let message = null;
  const folding = (async () => {
    try {
      for await (const m of messages) message = m;
    } catch (e) {
      errors.push(String(e?.message ?? e));
    }
  })();
  const reader = mine.getReader();
  let cut = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      if (onChunk && (await onChunk(value, chunks))) {
        cut = true;
        break;
      }
    }
  } catch (e) {
    errors.push(String(e?.name === "AbortError" ? "AbortError" : (e?.message ?? e)));
  }
  if (!cut) await folding;
  return { chunks, message: message && { role: message.role, parts: message.parts }, errors };
}

function send(extra = {}, abortSignal = undefined) {
  return transport.sendMessages({
    chatId,
    messages: [user],
    trigger: "submit-message",
    messageId: undefined,
    abortSignal,
    body: extra,
  });
}

const out = { runs: [] };
if (scenario === "abort") {
  const controller = new AbortController();
  out.runs.push(
    await read(await send({}, controller.signal), (chunk) => {
      if (chunk.type === "text-delta") {
        controller.abort();
        return true;
      }
      return false;
    }),
  );
  const resumed = await transport.reconnectToStream({ chatId });
  out.runs.push(await read(resumed));
  out.afterwards = await transport.reconnectToStream({ chatId }); // null: 204, nothing runs
} else if (scenario === "stop") {
  let stopped = null;
  out.runs.push(
    await read(await send(), async (chunk) => {
      if (chunk.type === "text-delta" && stopped === null) {
        const r = await fetch(`${url}/ai-sdk/${graph}/chat/${chatId}/stop`, { method: "POST" });
        stopped = await r.json();
      }
      return false;
    }),
  );
  out.stopped = stopped;
} else {
  out.runs.push(await read(await send()));
  if (scenario === "approve") out.runs.push(await read(await send({ resume: "yes" })));
}
console.log(JSON.stringify(out));
