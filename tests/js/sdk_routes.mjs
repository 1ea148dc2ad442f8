// The official JS client (@langchain/langgraph-sdk, as the alias given) against a streamtap
// server: every route a LangGraph frontend calls, on the graphs of tests/server/_js_support.py.
//
//   node sdk_routes.mjs <sdk1|sdk2> <server url> <graph prefix: st|lg>
//
// Prints one JSON object: scenario name -> what the client got (or {error, status} when a call
// threw). tests/server/test_js_sdk.py asserts on it.
const [sdkName, apiUrl, prefix] = process.argv.slice(2);
const { Client } = await import(sdkName);
const client = new Client({ apiUrl, apiKey: null });
const g = (name) => `${prefix}_${name}`;
const HUMAN = { messages: [{ role: "user", content: "hi" }] };

async function collect(stream) {
  const parts = [];
  for await (const part of stream) parts.push({ event: part.event, data: part.data });
  return parts;
}

function texts(messages) {
  return messages.map((m) => m.content);
}

async function failure(call) {
  try {
    await call();
    return null;
  } catch (e) {
    return { status: e.status ?? null, name: e.name };
  }
}

const scenarios = {
  async assistants() {
    const all = await client.assistants.search({ limit: 100 });
    const filtered = await client.assistants.search({ graphId: g("nested"), limit: 100 });
    const aid = all.find((a) => a.graph_id === g("nested")).assistant_id;
    const got = await client.assistants.get(aid);
    const graph = await client.assistants.getGraph(aid);
    const xray = await client.assistants.getGraph(aid, { xray: true });
    const schemas = await client.assistants.getSchemas(aid);
    const subgraphs = await client.assistants.getSubgraphs(aid);
    const recursive = await client.assistants.getSubgraphs(g("nested"), { recurse: true });
    return {
      all: all.map((a) => [a.graph_id, a.assistant_id]),
      filtered: filtered.map((a) => a.graph_id),
      got: { assistant_id: got.assistant_id, graph_id: got.graph_id, name: got.name },
      graph_nodes: graph.nodes.map((n) => n.id),
      graph_edges: graph.edges.map((e) => [e.source, e.target]),
      xray_nodes: xray.nodes.map((n) => n.id),
      schemas,
      subgraphs: Object.keys(subgraphs),
      subgraph_state: Object.keys(subgraphs.sub?.state_schema?.properties ?? {}),
      recursive: Object.keys(recursive),
      missing: await failure(() => client.assistants.get("no-such-assistant")),
    };
  },

  async threads() {
    const owner = `js-${sdkName}`;
    const thread = await client.threads.create({ metadata: { owner } });
    const tid = thread.thread_id;
    const fresh = await client.threads.get(tid);
    const done = await client.runs.wait(tid, g("agent"), { input: HUMAN });
    const after = await client.threads.get(tid);
    const search = await client.threads.search({ metadata: { graph_id: g("agent"), owner } });
    const state = await client.threads.getState(tid);
    const history = await client.threads.getHistory(tid, { limit: 10 });
    const input = history[history.length - 1];
    const updated = await client.threads.updateState(tid, {
      values: { messages: [{ type: "ai", content: "edited", id: "edit-1" }] },
      asNode: "agent",
    });
    const edited = await client.threads.getState(tid);
    const older = await client.threads.getState(tid, input.checkpoint_id);
    const copy = await client.threads.copy(tid);
    const copiedHistory = await client.threads.getHistory(copy.thread_id, { limit: 20 });
    const ownHistory = await client.threads.getHistory(tid, { limit: 20 });
    const patched = await client.threads.update(tid, { metadata: { title: "greeting" } });
    await client.threads.delete(copy.thread_id);
    return {
      tid,
      created: { status: thread.status, metadata: thread.metadata, values: thread.values ?? null },
      fresh_status: fresh.status,
      wait_messages: texts(done.messages),
      after: { status: after.status, metadata: after.metadata, values: texts(after.values.messages) },
      search: search.map((t) => t.thread_id),
      state: {
        values: texts(state.values.messages),
        next: state.next,
        checkpoint_id: state.checkpoint.checkpoint_id,
        checkpoint_thread: state.checkpoint.thread_id,
        parent_checkpoint_id: state.parent_checkpoint?.checkpoint_id ?? null,
        step: state.metadata.step,
      },
      history: history.map((h) => ({
        checkpoint_id: h.checkpoint.checkpoint_id,
        parent: h.parent_checkpoint?.checkpoint_id ?? null,
        step: h.metadata.step,
        source: h.metadata.source,
        next: h.next,
        messages: texts(h.values.messages ?? []),
      })),
      updated_thread: updated.checkpoint.thread_id,
      updated_checkpoint: updated.checkpoint.checkpoint_id,
      edited: {
        values: texts(edited.values.messages),
        checkpoint_id: edited.checkpoint.checkpoint_id,
        parent: edited.parent_checkpoint?.checkpoint_id ?? null,
        writer: edited.metadata.source,
      },
      older: { values: texts(older.values.messages), step: older.metadata.step },
      copy: { differs: copy.thread_id !== tid, metadata: copy.metadata },
      copied_history: copiedHistory.map((h) => [h.checkpoint.checkpoint_id, texts(h.values.messages ?? [])]),
      own_history: ownHistory.map((h) => [h.checkpoint.checkpoint_id, texts(h.values.messages ?? [])]),
      patched: patched.metadata,
      copy_deleted: await failure(() => client.threads.get(copy.thread_id)),
      missing: await failure(() => client.threads.getState("00000000-0000-0000-0000-000000000000")),
    };
  },

  async stream_modes() {
    const run = (modes, extra = {}) =>
      collect(client.runs.stream(null, g("agent"), { input: HUMAN, streamMode: modes, ...extra }));
    const out = {};
    out.values = await run("values");
    out.updates = await run("updates");
    out.custom = await run("custom");
    out.messages_tuple = await run("messages-tuple");
    out.messages = await run("messages");
    out.combined = await run(["values", "messages-tuple", "updates", "custom"]);
    const events = await run("events");
    out.events = events.map((p) => p.event === "events" ? [p.event, p.data.event, p.data.name] : [p.event]);
    out.event_chunks = events
      .filter((p) => p.event === "events" && p.data.event === "on_chat_model_stream")
      .map((p) => p.data.data.chunk.content);
    out.subgraphs = await collect(
      client.runs.stream(null, g("nested"), {
        input: HUMAN,
        streamMode: ["messages-tuple", "updates"],
        streamSubgraphs: true,
      }),
    );
    out.no_subgraphs = await collect(
      client.runs.stream(null, g("nested"), { input: HUMAN, streamMode: ["messages-tuple", "updates"] }),
    );
    if (sdkName === "sdk1") {
      out.tools = await collect(client.runs.stream(null, g("tools"), { input: HUMAN, streamMode: "tools" }));
    }
    out.lifecycle = await collect(
      client.runs.stream(null, g("nested"), { input: HUMAN, streamMode: ["lifecycle"] }),
    );
    return out;
  },

  async background() {
    const tid = (await client.threads.create()).thread_id;
    const created = await client.runs.create(tid, g("agent"), {
      input: HUMAN,
      streamMode: ["values", "messages-tuple"],
      streamResumable: true,
    });
    const joined = await client.runs.join(tid, created.run_id);
    const got = await client.runs.get(tid, created.run_id);
    const replay = await collect(client.runs.joinStream(tid, created.run_id));
    const second = await client.runs.create(tid, g("paced"), {
      input: { messages: [{ role: "user", content: "again" }] },
      streamMode: ["updates"],
    });
    const live = await collect(client.runs.joinStream(tid, second.run_id));
    const list = await client.runs.list(tid);
    const slowThread = (await client.threads.create()).thread_id;
    const slow = await client.runs.create(slowThread, g("slow"), { input: HUMAN });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const running = await client.runs.get(slowThread, slow.run_id);
    await client.runs.cancel(slowThread, slow.run_id, true);
    const cancelled = await client.runs.get(slowThread, slow.run_id);
    const slowState = await client.threads.get(slowThread);
    return {
      tid,
      created: { status: created.status, thread_id: created.thread_id, assistant_id: created.assistant_id },
      joined: texts(joined.messages),
      got: { run_id: got.run_id, status: got.status, thread_id: got.thread_id },
      created_id: created.run_id,
      replay,
      second_id: second.run_id,
      live,
      list: list.map((r) => [r.run_id, r.status]),
      slow: { running: running.status, cancelled: cancelled.status, thread: slowState.status },
    };
  },

  async wait() {
    const tid = (await client.threads.create()).thread_id;
    const first = await client.runs.wait(tid, g("agent"), { input: HUMAN });
    const second = await client.runs.wait(tid, g("agent"), {
      input: { messages: [{ role: "user", content: "more" }] },
    });
    const stateless = await client.runs.wait(null, g("agent"), { input: HUMAN });
    return {
      first: texts(first.messages),
      second: texts(second.messages),
      stateless: texts(stateless.messages),
      unknown: await failure(() => client.runs.wait(null, "no-such-graph", { input: HUMAN })),
    };
  },

  async store() {
    const ns = ["js", prefix, sdkName];
    await client.store.putItem(ns, "a", { text: "alpha", n: 1 });
    await client.store.putItem([...ns, "deeper"], "b", { text: "beta", n: 2 });
    await client.store.putItem(ns, "c", { text: "gamma", n: 3 });
    const item = await client.store.getItem(ns, "a");
    const search = await client.store.searchItems(ns, { filter: { n: 3 } });
    const everything = await client.store.searchItems(ns, { limit: 10 });
    const paged = await client.store.searchItems(ns, { limit: 1, offset: 1 });
    const spaces = await client.store.listNamespaces({ prefix: ns });
    const shallow = await client.store.listNamespaces({ prefix: ns, maxDepth: 3 });
    await client.store.deleteItem(ns, "a");
    const gone = await client.store.getItem(ns, "a").then(
      (value) => ({ value }),
      (e) => ({ status: e.status ?? null }),
    );
    return {
      item: { namespace: item.namespace, key: item.key, value: item.value, stamped: Boolean(item.created_at && item.updated_at) },
      search: search.items.map((i) => [i.key, i.value]),
      everything: everything.items.map((i) => i.key).sort(),
      paged: paged.items.length,
      spaces: spaces.namespaces,
      shallow: shallow.namespaces,
      gone,
    };
  },

  async interrupt() {
    const tid = (await client.threads.create()).thread_id;
    const first = await collect(
      client.runs.stream(tid, g("approve"), { input: HUMAN, streamMode: ["values", "updates"] }),
    );
    const thread = await client.threads.get(tid);
    const state = await client.threads.getState(tid);
    const resumed = await collect(
      client.runs.stream(tid, g("approve"), { command: { resume: "yes" }, streamMode: "values" }),
    );
    const after = await client.threads.get(tid);
    const waitThread = (await client.threads.create()).thread_id;
    const paused = await client.runs.wait(waitThread, g("approve"), { input: HUMAN });
    const answered = await client.runs.wait(waitThread, g("approve"), { command: { resume: "no" } });
    return {
      first,
      thread: { status: thread.status, interrupts: thread.interrupts },
      state: { next: state.next, interrupts: state.interrupts, tasks: state.tasks.map((t) => [t.name, t.interrupts]) },
      resumed,
      after: { status: after.status, values: texts(after.values.messages) },
      paused: { values: texts(paused.messages), interrupt: paused.__interrupt__ },
      answered: texts(answered.messages),
    };
  },
};

const only = process.argv[5] ? process.argv[5].split(",") : Object.keys(scenarios);
const results = {};
for (const name of only) {
  try {
    results[name] = await scenarios[name]();
  } catch (e) {
    results[name] = { error: String(e?.stack ?? e), status: e?.status ?? null };
  }
}
process.stdout.write(JSON.stringify(results));
