// The chat page: one turn per message, rendered live from the run's events.
// messages-tuple chunks -> text, reasoning and tool-call arguments as they stream;
// updates -> one line per finished node; custom {progress} -> a progress bar.
import { HttpError, runStream } from "./sse.js";

const $ = (id) => document.getElementById(id);
const els = {
  assistant: $("assistant"), thread: $("thread"), newThread: $("new-thread"), token: $("token"),
  conn: $("conn"), transcript: $("transcript"), form: $("composer"), input: $("input"),
  send: $("send"), stop: $("stop"), template: $("turn-template"),
};

const state = { current: null, reader: null };
// Test and debugging hooks: the browser test drops the connection through this.
window.__streamtap = {
  state,
  dropConnection() { state.reader?.abort(new Error("simulated network drop")); },
};

function authHeaders() {
  const token = sessionStorage.getItem("streamtap-token") || els.token.value;
  return token ? { Authorization: `Bearer ${token}` } : {};
}

async function api(path, options = {}) {
  const response = await fetch(path, {
    ...options,
    headers: { "Content-Type": "application/json", ...authHeaders(), ...(options.headers || {}) },
  });
  if (response.status === 401) askForToken();
  if (!response.ok) throw new HttpError(response.status, await response.json().catch(() => null));
  return response.status === 204 || response.status === 202 ? null : response.json();
}

function askForToken() {
  els.token.closest("label").hidden = false;
  els.token.focus();
}

els.token.addEventListener("change", () => {
  sessionStorage.setItem("streamtap-token", els.token.value);
  loadAssistants().then(loadThreads);
});

function setConnection(text) {
  if (text === "reconnecting") state.reconnects = (state.reconnects || 0) + 1;
  els.conn.textContent = text;
  els.conn.className = `conn ${text}`;
}

// ---------------------------------------------------------------- assistants and threads

async function loadAssistants() {
  const assistants = await api("assistants/search", { method: "POST", body: "{}" });
  els.assistant.replaceChildren(
    ...assistants.map((a) => new Option(a.graph_id, a.graph_id)),
  );
}

async function loadThreads(selected = els.thread.value) {
  const threads = await api("threads/search", { method: "POST", body: JSON.stringify({ limit: 50 }) });
  els.thread.replaceChildren(
    new Option("(stateless)", ""),
    ...threads.map((t) => new Option(`${t.metadata?.title || t.thread_id.slice(0, 8)} · ${t.status}`, t.thread_id)),
  );
  els.thread.value = selected;
}

els.newThread.addEventListener("click", async () => {
  const thread = await api("threads", {
    method: "POST",
    body: JSON.stringify({ metadata: { graph_id: els.assistant.value, title: `Thread ${new Date().toLocaleTimeString()}` } }),
  });
  await loadThreads(thread.thread_id);
  els.transcript.replaceChildren();
});

els.thread.addEventListener("change", async () => {
  els.transcript.replaceChildren();
  if (!els.thread.value) return;
  const snapshot = await api(`threads/${els.thread.value}/state`);
  for (const message of snapshot.values?.messages || []) {
    if (message.type === "human") newTurn(textOf(message.content));
    else renderWhole(lastTurn(), message);
  }
  for (const turn of els.transcript.querySelectorAll(".turn")) turn.turn.status.textContent = "saved";
  if (snapshot.interrupts?.length) showInterrupt(lastTurn(), snapshot.interrupts[0]);
});

// ---------------------------------------------------------------- rendering

function newTurn(userText) {
  const root = els.template.content.firstElementChild.cloneNode(true);
  root.querySelector(".user").textContent = userText;
  els.transcript.append(root);
  const turn = {
    root,
    nodes: root.querySelector(".nodes"),
    progress: root.querySelector(".progress"),
    messages: root.querySelector(".messages"),
    interrupt: root.querySelector(".interrupt"),
    status: root.querySelector(".status"),
    usage: root.querySelector(".usage"),
    byId: new Map(),
  };
  root.turn = turn;
  return turn;
}

function lastTurn() {
  const root = els.transcript.lastElementChild;
  return root?.turn || newTurn("");
}

function textOf(content) {
  if (typeof content === "string") return content;
  return (content || []).filter((b) => b.type === "text").map((b) => b.text).join("");
}

function messageView(turn, id, kind = "ai") {
  let view = turn.byId.get(id);
  if (view) return view;
  const root = document.createElement("article");
  root.className = `message ${kind}`;
  root.dataset.testid = "message";
  const reasoning = document.createElement("details");
  reasoning.className = "reasoning";
  reasoning.hidden = true;
  reasoning.innerHTML = "<summary>Reasoning</summary><div class=\"reasoning-text\" data-testid=\"reasoning\"></div>";
  const text = document.createElement("div");
  text.className = "text";
  text.dataset.testid = "answer";
  const tools = document.createElement("div");
  tools.className = "tools";
  root.append(reasoning, text, tools);
  turn.messages.append(root);
  view = { root, reasoning, text, tools, calls: new Map(), usage: null };
  turn.byId.set(id, view);
  els.transcript.scrollTop = els.transcript.scrollHeight;
  return view;
}

function appendContent(view, content) {
  if (typeof content === "string") {
    if (content) view.text.append(content);
    return;
  }
  for (const block of content || []) {
    if (block.type === "text" && block.text) view.text.append(block.text);
    const thought = block.reasoning ?? block.thinking;
    if ((block.type === "reasoning" || block.type === "thinking") && thought) {
      view.reasoning.hidden = false;
      view.reasoning.querySelector(".reasoning-text").append(thought);
    }
  }
}

function toolCallView(view, key) {
  let call = view.calls.get(key);
  if (call) return call;
  const root = document.createElement("div");
  root.className = "tool-call";
  root.dataset.testid = "tool-call";
  root.innerHTML = "<span class=\"name\"></span><pre class=\"args\"></pre>";
  view.tools.append(root);
  call = { name: root.querySelector(".name"), args: root.querySelector(".args") };
  view.calls.set(key, call);
  return call;
}

function renderChunk(turn, chunk) {
  if (chunk.type === "tool" || chunk.type === "ToolMessageChunk") {
    const view = messageView(turn, chunk.id || `tool-${chunk.tool_call_id}`, "tool");
    view.text.className = "tool-result";
    view.text.append(`${chunk.name || "tool"} → ${textOf(chunk.content)}`);
    return;
  }
  if (chunk.type !== "AIMessageChunk" && chunk.type !== "ai") return;
  const view = messageView(turn, chunk.id || "answer");
  appendContent(view, chunk.content);
  for (const part of chunk.tool_call_chunks || []) {
    const call = toolCallView(view, part.index ?? part.id ?? 0);
    if (part.name) call.name.textContent = part.name;
    if (part.args) call.args.append(part.args);
  }
  if (chunk.usage_metadata) view.usage = chunk.usage_metadata;
}

function renderWhole(turn, message) {
  if (message.type === "tool") return renderChunk(turn, message);
  if (message.type !== "ai") return;
  const text = textOf(message.content);
  for (const seen of turn.byId.values()) {
    if (seen.text.textContent === text && (text || seen.calls.size)) return; // already streamed
  }
  const view = messageView(turn, message.id || `m${turn.byId.size}`);
  if (view.text.textContent || view.calls.size) return;
  appendContent(view, message.content);
  for (const [i, call] of (message.tool_calls || []).entries()) {
    const el = toolCallView(view, i);
    el.name.textContent = call.name;
    el.args.textContent = JSON.stringify(call.args);
  }
}

function renderUpdate(turn, update) {
  for (const [node, value] of Object.entries(update || {})) {
    if (node === "__interrupt__") {
      if (value?.length) showInterrupt(turn, value[0]);
      continue;
    }
    const li = document.createElement("li");
    li.textContent = node;
    turn.nodes.append(li);
    for (const message of value?.messages || []) renderWhole(turn, message);
  }
}

function renderCustom(turn, data) {
  const pct = typeof data === "number" ? data : data?.progress;
  if (typeof pct !== "number") return;
  turn.progress.hidden = false;
  turn.progress.value = pct <= 1 && !Number.isInteger(pct) ? pct * 100 : pct;
}

function showInterrupt(turn, interrupt) {
  const value = interrupt.value;
  turn.interrupt.hidden = false;
  turn.interrupt.querySelector(".question").textContent =
    typeof value === "string" ? value : value?.question || JSON.stringify(value);
  const button = turn.interrupt.querySelector(".resume");
  button.onclick = () => {
    const answer = turn.interrupt.querySelector(".answer").value;
    turn.interrupt.hidden = true;
    run({ command: { resume: answer } }, `↪ ${answer}`);
  };
}

function showUsage(turn) {
  let input = 0, output = 0, seen = false;
  for (const view of turn.byId.values()) {
    if (!view.usage) continue;
    seen = true;
    input += view.usage.input_tokens || 0;
    output += view.usage.output_tokens || 0;
  }
  if (seen) turn.usage.textContent = `${input} in · ${output} out tokens`;
}

// ---------------------------------------------------------------- running

async function run(payload, userText) {
  const threadId = els.thread.value;
  const turn = newTurn(userText);
  const controller = new AbortController();
  state.current = { turn, controller, runId: null, threadId: null, events: 0 };
  els.send.disabled = true;
  els.stop.disabled = false;
  turn.status.textContent = "streaming…";
  const body = {
    assistant_id: els.assistant.value,
    stream_mode: ["messages-tuple", "updates", "custom"],
    stream_resumable: true,
    on_disconnect: "cancel",
    ...payload,
  };
  const url = threadId ? `threads/${threadId}/runs/stream` : "runs/stream";
  try {
    const events = runStream({
      url, body, headers: authHeaders(), signal: controller.signal,
      hooks: {
        onRun: ({ runId, threadId: tid }) => Object.assign(state.current, { runId, threadId: tid }),
        onConnection: setConnection,
        onReader: (drop) => { state.reader = drop; },
      },
    });
    for await (const ev of events) {
      state.current.events += 1;
      const [mode] = ev.event.split("|");
      if (mode === "messages") renderChunk(turn, ev.data[0]);
      else if (mode === "updates") renderUpdate(turn, ev.data);
      else if (mode === "custom") renderCustom(turn, ev.data);
      else if (mode === "error") {
        turn.status.classList.add("error");
        turn.status.textContent = `${ev.data.error}: ${ev.data.message}`;
      } else if (mode === "end") {
        if (!turn.status.classList.contains("error")) {
          turn.status.textContent = ev.data?.status === "interrupted" ? "stopped" : "done";
        }
        turn.root.dataset.done = ev.data?.status || "success";
      }
    }
  } catch (err) {
    turn.status.classList.add("error");
    turn.status.textContent = err.name === "AbortError" ? "stopped" : String(err.message || err);
    turn.root.dataset.done = "failed";
    if (err.status === 401) askForToken();
  } finally {
    showUsage(turn);
    els.send.disabled = false;
    els.stop.disabled = true;
    state.reader = null;
    setConnection("idle");
    if (threadId) loadThreads(threadId).catch(() => {});
  }
}

els.stop.addEventListener("click", async () => {
  const current = state.current;
  if (!current) return;
  els.stop.disabled = true;
  try {
    if (!current.runId) throw new Error("run not started yet");
    await api(`threads/${current.threadId}/runs/${current.runId}/cancel`, { method: "POST", body: "{}" });
  } catch {
    current.controller.abort(); // closing the stream cancels the run after the grace period
  }
});

els.form.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = els.input.value.trim();
  if (!text || els.send.disabled) return;
  els.input.value = "";
  run({ input: { messages: [{ role: "user", content: text }] } }, text);
});

els.input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    els.form.requestSubmit();
  }
});

loadAssistants().then(() => loadThreads()).catch((err) => {
  if (err.status !== 401) setConnection(`error: ${err.message}`);
});
