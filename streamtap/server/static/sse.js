// Run streams over fetch: EventSource cannot POST or send headers, so the SSE
// framing is parsed here, and a dropped connection is resumed from the run's
// Location with Last-Event-ID, like the official SDK does.

/** Split an SSE byte stream into {id, event, data} objects (WHATWG rules, JSON data). */
export async function* parseSSE(body, signal) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  const onAbort = () => reader.cancel().catch(() => {});
  signal?.addEventListener("abort", onAbort, { once: true });
  let buffer = "";
  let event = "", data = [], id = null;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      const lines = buffer.split(/\r\n|\r|\n/);
      buffer = lines.pop();
      for (const line of lines) {
        if (line === "") {
          if (data.length || event) {
            const text = data.join("\n");
            yield { id, event: event || "message", data: text ? JSON.parse(text) : null };
          }
          event = ""; data = [];
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let val = colon < 0 ? "" : line.slice(colon + 1);
        if (val.startsWith(" ")) val = val.slice(1);
        if (field === "event") event = val;
        else if (field === "data") data.push(val);
        else if (field === "id" && !val.includes("\0")) id = val;
      }
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
    reader.releaseLock();
  }
}

export class HttpError extends Error {
  constructor(status, body) {
    super((body && (body.detail || body.message)) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

/**
 * Start a run and yield its events; if the connection drops before `end`,
 * reconnect to the run's stream with Last-Event-ID so nothing is lost or repeated.
 * `hooks.onRun({runId, threadId})` fires once the server has answered,
 * `hooks.onConnection(state)` with "streaming" | "reconnecting" | "closed".
 */
export async function* runStream({ url, body, headers = {}, signal, hooks = {}, maxRetries = 8 }) {
  let response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "text/event-stream", ...headers },
    body: JSON.stringify(body),
    signal,
  });
  if (!response.ok) throw new HttpError(response.status, await response.json().catch(() => null));
  const location = response.headers.get("Location");
  const match = /\/threads\/([^/]+)\/runs\/([^/]+)/.exec(response.headers.get("Content-Location") || "");
  hooks.onRun?.({ threadId: match?.[1], runId: match?.[2], location });
  let lastId = null;
  let retries = 0;
  for (;;) {
    hooks.onConnection?.("streaming");
    const drop = new AbortController();
    hooks.onReader?.(drop);
    let ended = false;
    try {
      for await (const ev of parseSSE(response.body, anySignal(signal, drop.signal))) {
        if (ev.id !== null && lastId !== null && Number(ev.id) <= Number(lastId) && /^\d+$/.test(ev.id)) continue;
        if (ev.id !== null) lastId = ev.id;
        retries = 0;
        yield ev;
        if (ev.event === "end") { ended = true; break; }
      }
    } catch (err) {
      if (signal?.aborted) throw err;
    }
    if (ended || signal?.aborted) break;
    if (!location) throw new Error("stream closed and the server gave no Location to resume from");
    // The connection dropped mid-run: resume where we were.
    hooks.onConnection?.("reconnecting");
    for (;;) {
      if (++retries > maxRetries) throw new Error("could not resume the stream");
      await sleep(Math.min(2000, 100 * 2 ** (retries - 1)), signal);
      try {
        const resumeHeaders = { Accept: "text/event-stream", ...headers };
        if (lastId !== null) resumeHeaders["Last-Event-ID"] = lastId;
        response = await fetch(location, { headers: resumeHeaders, signal });
        if (response.ok) break;
        if (response.status < 500 && response.status !== 429) {
          throw new HttpError(response.status, await response.json().catch(() => null));
        }
      } catch (err) {
        if (signal?.aborted || err instanceof HttpError) throw err;
      }
    }
  }
  hooks.onConnection?.("closed");
}

function anySignal(...signals) {
  const controller = new AbortController();
  for (const s of signals) {
    if (!s) continue;
    if (s.aborted) controller.abort(s.reason);
    else s.addEventListener("abort", () => controller.abort(s.reason), { once: true });
  }
  return controller.signal;
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => { clearTimeout(timer); reject(signal.reason); }, { once: true });
  });
}
